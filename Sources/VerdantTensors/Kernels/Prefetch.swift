// Software prefetch for the GEMM kernels. Swift has no prefetch intrinsic; naming
// LLVM's `llvm.prefetch.p0` as the symbol of a body-less declaration makes the
// compiler emit the intrinsic itself (prefetcht0 / prefetchw on x86, prfm on
// arm64), not a call. A prefetch never faults, so addresses past the end of a
// buffer are harmless.

@_silgen_name("llvm.prefetch.p0")
func llvmPrefetch(_ address: UnsafeRawPointer, _ write: Int32, _ locality: Int32, _ cacheType: Int32)

/// Brings the line holding `address` into L1 for reading.
@inline(__always)
func prefetchRead(_ address: UnsafeRawPointer) { llvmPrefetch(address, 0, 3, 1) }

/// Brings the line holding `address` into L1 in a writable state (prefetchw).
@inline(__always)
func prefetchWrite(_ address: UnsafeRawPointer) { llvmPrefetch(address, 1, 3, 1) }
