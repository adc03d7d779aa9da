import COpenSSL

/// SHA-1 and SHA-2 digests for the `sha1` and `sha2` converters.
public enum MessageDigest {
    /// The largest digest, in bytes (SHA-512).
    public static let maximumSize = 64

    /// Writes the digest of `input` (SHA-1 for 160 bits, else SHA-2 of that
    /// size) to `output`, which holds `maximumSize` bytes; its length, or 0
    /// when OpenSSL fails.
    public static func compute(bits: Int, _ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawPointer) -> Int {
        let type: OpaquePointer? = switch bits {
        case 160: EVP_sha1()
        case 224: EVP_sha224()
        case 384: EVP_sha384()
        case 512: EVP_sha512()
        default: EVP_sha256()
        }
        var size: UInt32 = 0
        let ok = EVP_Digest(input.baseAddress, input.count, output.assumingMemoryBound(to: UInt8.self), &size, type, nil)
        return ok == 1 ? Int(size) : 0
    }
}
