import VerdantModels
import VerdantTensors

/// Builds the quantizer for the calibration-driven methods (GPTQ, AWQ). AWQ
/// may rewrite `weights` (channel scales folded into norms and matrices)
/// before returning the quantizer that finishes the job.
func makeCalibratedQuantizer(method: QuantizationMethod, model: DecoderModel, weights: FloatWeights,
                             calibration: CalibrationSet, statistics: ActivationStatistics?,
                             importance: @escaping (String) -> [Float]?, pool: ThreadPool,
                             progress: (String) -> Void) throws -> MatrixQuantizer {
    throw QuantizeError("--method \(method.rawValue) is not available in this build yet; use --method rtn")
}
