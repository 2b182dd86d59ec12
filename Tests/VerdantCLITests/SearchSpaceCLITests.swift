import Foundation
import Testing

@Suite struct SearchSpaceCLITests {
    @Test func enumeratesLegalConfigurations() throws {
        let r = try CLI.run(["search-space", "--budget-mb", "2", "--format", "q8_0", "--enumerate", "3", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let rows = report?["configurations"] as? [[String: Any]] ?? []
        #expect(rows.count == 3)
        for row in rows { #expect((row["bytes"] as? Int ?? .max) <= 2_000_000) }
    }

    @Test func impossibleBudgetFailsClearly() throws {
        let r = try CLI.run(["search-space", "--budget-mb", "0.01"])
        #expect(r.status != 0 && !r.crashed)
        #expect(r.stderr.contains("smallest configuration"), "\(r.stderr)")
    }

    @Test func malformedSpaceFailsClearly() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("space-\(UUID().uuidString).json")
        try Data(#"{"genes": [{"name": "layers", "range": [3, 1]}]}"#.utf8).write(to: path)
        defer { try? FileManager.default.removeItem(at: path) }
        let r = try CLI.run(["search-space", path.path, "--budget-mb", "4"])
        #expect(r.status != 0 && !r.crashed)
        #expect(r.stderr.contains("range [3, 1] is empty"), "\(r.stderr)")
        let missing = try CLI.run(["search-space", "/nonexistent/space.json", "--budget-mb", "4"])
        #expect(missing.status != 0 && !missing.crashed)
        #expect(missing.stderr.contains("cannot read"), "\(missing.stderr)")
    }

    @Test func printsTheDefaultSpace() throws {
        let r = try CLI.run(["search-space", "--print-default"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("\"hidden_size\""))
    }

    @Test func measuresAvatarsBox() throws {
        let r = try CLI.run(["search-space", "--budget-mb", "4", "--enumerate", "0", "--avatar-box", "20"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("Avatar's box from 20 legal configurations"), "\(r.stdout)")
        #expect(r.stdout.contains("disagree on 0 of 50"), "\(r.stdout)")
    }
}
