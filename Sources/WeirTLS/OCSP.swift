import COpenSSL
import CShims
import Glibc
import WeirConfig

/// OCSP stapling: the DER OCSP response in `CERT.ocsp`, next to a
/// certificate file, is sent to clients that ask for it (status_request)
/// until its nextUpdate. As in HAProxy, a response that cannot be used (not
/// an OCSP response, not successful, not about this certificate, revoked,
/// out of date) is a warning and is not stapled; a `.ocsp` file whose
/// certificate's issuer is found neither in its chain nor in `CERT.issuer`
/// is an error.
struct OCSPStaple {
    /// The certificate (X509 *) it is about, owned by its context.
    let certificate: OpaquePointer
    let response: [UInt8]
    /// nextUpdate, in seconds since the epoch: not stapled from then on.
    let expires: Int

    enum Outcome {
        case none
        case staple(OCSPStaple)
        /// A warning: the response is not stapled.
        case ignored(String)
        case failed(String)
    }

    /// The response for the certificate of `file`, just loaded as the
    /// current certificate of `ctx`.
    static func load(for file: String, in ctx: OpaquePointer) -> Outcome {
        let path = file + ".ocsp"
        guard access(path, F_OK) == 0 else { return .none }
        let response: [UInt8]
        do { response = try ConfigLoader.readFile(path) } catch {
            return .failed("bind: OCSP response: \(error)")
        }
        switch check(response, for: file, certificate: nil, in: ctx) {
        case .staple(let staple): return .staple(staple)
        case .noIssuer(let reason):
            return .failed("bind: '\(path)' is present but the OCSP certificate ID cannot be computed: \(reason)")
        case .otherCertificate(let reason), .unusable(let reason):
            return .ignored("bind: the OCSP response in '\(path)' is not stapled: \(reason)")
        }
    }

    /// What a response is for one certificate.
    enum Check {
        case staple(OCSPStaple)
        /// The certificate's issuer is in neither its chain nor `FILE.issuer`.
        case noIssuer(String)
        /// About another certificate or issuer.
        case otherCertificate(String)
        /// About this certificate, but not to be stapled (revoked, out of date…).
        case unusable(String)
    }

    /// Checks `response` against the certificate of `file` in `ctx`
    /// (`certificate`, or nil: the one just loaded), whose issuer is in
    /// its chain or in `FILE.issuer`.
    static func check(_ response: [UInt8], for file: String, certificate: OpaquePointer?, in ctx: OpaquePointer) -> Check {
        let issuerFile = file + ".issuer"
        let hasIssuerFile = access(issuerFile, F_OK) == 0
        var nextUpdate: Int64 = 0
        var message = [CChar](repeating: 0, count: 256)
        let result = response.withUnsafeBufferPointer { der in
            CShims_OCSP_check_response(ctx, certificate, hasIssuerFile ? issuerFile : nil, der.baseAddress, der.count,
                                       &nextUpdate, &message, Int32(message.count))
        }
        let reason = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        switch result {
        case 0:
            guard let current = certificate ?? SSL_CTX_get0_certificate(ctx) else { return .unusable("no certificate") }
            return .staple(OCSPStaple(certificate: current, response: response, expires: Int(nextUpdate)))
        case 2: return .noIssuer(reason)
        case 3: return .otherCertificate(reason)
        default: return .unusable(reason)
        }
    }
}

/// status_request: staples the response of the certificate the handshake
/// uses, if it has one that has not expired.
func tlsOCSPStatusCallback(_ ssl: OpaquePointer?, _ arg: UnsafeMutableRawPointer?) -> Int32 {
    guard let ssl, let arg, let certificate = SSL_get_certificate(ssl) else { return SSL_TLSEXT_ERR_NOACK }
    let context = Unmanaged<ServedContext>.fromOpaque(arg).takeUnretainedValue()
    guard let staple = context.staples.first(where: { $0.certificate == certificate }),
          time(nil) < staple.expires else { return SSL_TLSEXT_ERR_NOACK }
    let stapled = staple.response.withUnsafeBufferPointer {
        CShims_SSL_set_tlsext_status_ocsp_resp(ssl, $0.baseAddress, $0.count)
    }
    return stapled == 1 ? SSL_TLSEXT_ERR_OK : SSL_TLSEXT_ERR_NOACK
}
