import Foundation
import Testing

/// `verdant prune --group-lasso` on the demo model: tiny budgets (a few 32-token steps).
struct GroupLassoCLI {
    let dir: URL
    let data: String
    let demo = CLI.fixtures.appendingPathComponent("demo").path

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("verdant-gl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        data = dir.appendingPathComponent("train.jsonl").path
        let text = (0..<60).map { #"{"text": "def f\#($0)(x):\n    return x * \#($0) + 1\n"}"# }.joined(separator: "\n")
        try Data(text.utf8).write(to: URL(fileURLWithPath: data))
    }

    func out(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// Penalty phase of 4 steps (targeted, ramped) + 2 recovery steps, a checkpoint every step.
    func args(_ group: String, out: String, alpha: String = "20") -> [String] {
        ["prune", demo, "--group-lasso", "--group", group, "--sparsity", "0.5", "--data", data, "--alpha", alpha,
         "--alpha-schedule", "ramp", "--penalize", "cut", "--tokens", "128", "--recover-tokens", "64", "--context", "16",
         "--batch-tokens", "32", "--lr", "1e-3", "--threads", "2", "--save-every", "1", "--out", out]
    }

    func bytes(_ out: String) -> Data? { FileManager.default.contents(atPath: out + "/model.safetensors") }
}

@Test(arguments: [
    (["--recover-tokens", "-1"], "--recover-tokens"),
    (["--alpha-schedule", "ramp"], "--alpha-schedule"),
    (["--penalize", "cut"], "--penalize"),
    (["--data", "DATA", "--tokens", "64", "--recover-tokens", "32"], "--tokens"),
    (["--data", "DATA"], "--recover-tokens"),
    (["--recover-tokens", "32"], "--data"),
    (["--alpha-schedule", "cubic", "--alpha", "1", "--data", "DATA"], "cubic"),
])
func groupLassoBadArgumentsAreClearErrors(_ extra: [String], _ mentions: String) throws {
    let t = try GroupLassoCLI()
    defer { try? FileManager.default.removeItem(at: t.dir) }
    let r = try CLI.run(["prune", t.demo, "--group-lasso", "--group", "1x2", "--sparsity", "0.5", "--out", t.out("o")]
                        + extra.map { $0 == "DATA" ? t.data : $0 })
    #expect(!r.crashed && r.status != 0 && r.stderr.contains(mentions), "\(r.stderr)")
}

/// Kill/resume: a run resumed inside the recovery, or after the penalty phase with no
/// recovery checkpoint yet, writes the same bytes as the uninterrupted run; a resume
/// with another α is refused by name. Both output kinds (sparse 1x2, smaller dense row).
@Test(arguments: ["1x2", "row"])
func groupLassoRecoveryResumesBitIdentically(_ group: String) throws {
    let t = try GroupLassoCLI()
    defer { try? FileManager.default.removeItem(at: t.dir) }
    let fm = FileManager.default
    let out = t.out("o"), root = out + ".checkpoints/recovery"
    var r = try CLI.run(t.args(group, out: out))
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stderr.contains("recovery: 2 steps"), "\(r.stderr)")
    #expect(r.stdout.contains("already exactly zero at the cut"), "\(r.stdout)")
    let straight = t.bytes(out)
    #expect(straight != nil)

    // Killed after recovery step 1.
    try fm.removeItem(atPath: root + "/step-0000002")
    r = try CLI.run(t.args(group, out: out) + ["--resume", "--force"])
    #expect(r.status == 0 && r.stderr.contains("resumed from \(root)/step-0000001"), "\(r.stderr)")
    #expect(!r.stderr.contains("step 4/4"), "the penalty phase ran again: \(r.stderr)")
    #expect(t.bytes(out) == straight, "resumed inside the recovery: different output")

    // Killed between the phases: the cut is recomputed from the penalty phase's last checkpoint.
    try fm.removeItem(atPath: root)
    r = try CLI.run(t.args(group, out: out) + ["--resume", "--force"])
    #expect(r.status == 0 && r.stderr.contains("step 1/2"), "\(r.stderr)")
    #expect(t.bytes(out) == straight, "resumed between the phases: different output")

    r = try CLI.run(t.args(group, out: out, alpha: "5") + ["--resume", "--force"])
    #expect(!r.crashed && r.status != 0 && r.stderr.contains("alpha 20.0") && r.stderr.contains("alpha 5.0"), "\(r.stderr)")

    r = try CLI.run(["inspect", out])
    #expect(r.status == 0, "\(r.stderr)")
}

/// The magnitude baseline with recovery (no penalty phase) writes a loadable model
/// that `quantize` composes with for row groups.
@Test func groupLassoMagnitudeWithRecoveryComposesWithQuantize() throws {
    let t = try GroupLassoCLI()
    defer { try? FileManager.default.removeItem(at: t.dir) }
    let out = t.out("mag")
    var r = try CLI.run(["prune", t.demo, "--group-lasso", "--group", "row", "--sparsity", "0.5", "--data", t.data,
                         "--recover-tokens", "64", "--context", "16", "--batch-tokens", "32", "--threads", "2", "--out", out])
    #expect(r.status == 0 && r.stderr.contains("recovery: 2 steps") && r.stdout.contains("intermediate 128 → 64"), "\(r.stderr)\n\(r.stdout)")
    r = try CLI.run(["quantize", out, "--scheme", "q8_0", "--out", t.out("mag-q8")])
    #expect(r.status == 0, "\(r.stderr)")
    r = try CLI.run(["perplexity", t.out("mag-q8"), "--data", t.data, "--context", "16"])
    #expect(r.status == 0 && r.stdout.contains("perplexity"), "\(r.stderr)")
}
