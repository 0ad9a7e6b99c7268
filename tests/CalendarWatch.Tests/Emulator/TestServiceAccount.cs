using System;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace CalendarWatch.Tests.Emulator
{
    /// <summary>
    /// A service account for tests: an RSA key made in the test, its SubjectPublicKeyInfo PEM, and RS256 JWT assertions
    /// built and signed here (nothing from the emulator is used to sign).
    /// </summary>
    public sealed class TestServiceAccount : IDisposable
    {
        public const string GoogleTokenAudience = "https://oauth2.googleapis.com/token";

        public TestServiceAccount(string clientEmail = "robot@project.iam.gserviceaccount.com", string? clientId = null)
        {
            ClientEmail = clientEmail;
            ClientId = clientId;
            Key = RSA.Create(2048);
            PublicKeyPem = Key.ExportSubjectPublicKeyInfoPem();
        }

        public string ClientEmail { get; }
        public string? ClientId { get; }
        public RSA Key { get; }
        public string PublicKeyPem { get; }

        /// <summary>An RS256 assertion; unset iat/exp mean "now" and "now + 1 h" on the given clock.</summary>
        public string CreateAssertion(DateTimeOffset now, string? scope, string? subject = null, string audience = GoogleTokenAudience,
            DateTimeOffset? issuedAt = null, DateTimeOffset? expires = null, string? issuer = null, RSA? signWith = null)
        {
            var iat = issuedAt ?? now;
            var claims = new JsonObject
            {
                ["iss"] = issuer ?? ClientEmail,
                ["aud"] = audience,
                ["iat"] = iat.ToUnixTimeSeconds(),
                ["exp"] = (expires ?? iat.AddHours(1)).ToUnixTimeSeconds(),
            };
            if (scope != null) claims["scope"] = scope;
            if (subject != null) claims["sub"] = subject;
            return Sign(new JsonObject { ["alg"] = "RS256", ["typ"] = "JWT" }, claims, signWith ?? Key);
        }

        public static string Sign(JsonObject header, JsonObject claims, RSA key)
        {
            var signingInput = Base64Url(Encoding.UTF8.GetBytes(header.ToJsonString())) + "." + Base64Url(Encoding.UTF8.GetBytes(claims.ToJsonString()));
            var signature = key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            return signingInput + "." + Base64Url(signature);
        }

        public static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

        public void Dispose() => Key.Dispose();
    }
}
