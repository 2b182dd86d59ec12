import Testing
@testable import VerdantSearch

@Suite struct CostModelTests {
    static func shapes() -> [StudentShape] {
        var out: [StudentShape] = []
        for layers in [1, 2, 4, 6] {
            for hidden in [64, 128, 256] {
                out.append(StudentShape(family: .llama, layers: layers, hidden: hidden, heads: hidden / 32,
                                        kvHeads: layers % 2 == 1 ? 2 : 1, headDim: 32, intermediate: 2 * hidden, vocab: 2048,
                                        context: 512, tiedEmbeddings: true))
            }
        }
        return out
    }

    @Test func recoversKnownCoefficients() throws {
        let storage = StorageFormat(.bf16)
        let truth = [2e-4, 1.5e-4, 3e-4, 1e-5]
        let points = Self.shapes().map { s in
            (shape: s, value: zip(CostModel.features(s, storage: storage, span: 256), truth).reduce(0) { $0 + $1.0 * $1.1 })
        }
        let m = try CostModel.fit(points, storage: storage, span: 256, target: "seconds")
        for (a, b) in zip(m.coefficients, truth) { #expect(abs(a - b) < 1e-9) }
        #expect(m.maxRelativeError < 1e-6)
    }

    @Test func coefficientsStayNonNegative() throws {
        let storage = StorageFormat(.q8_0)
        // Cost falling with layers would need a negative per-layer coefficient.
        let points = Self.shapes().map { s in
            (shape: s, value: 1e-3 + 2e-4 * Double(s.weightBytesPerToken(storage)) / 1e6 - 1e-5 * Double(s.layers))
        }
        let m = try CostModel.fit(points, storage: storage, span: 256, target: "seconds")
        #expect(m.coefficients.allSatisfy { $0 >= 0 })
    }

    @Test func tooFewPointsIsAnError() {
        let s = Self.shapes()[0]
        #expect(throws: RegressionError.self) {
            try CostModel.fit([(s, 1.0)], storage: StorageFormat(.bf16), span: 8, target: "seconds")
        }
    }
}
