using System;
using System.Collections.Generic;
using System.IO;
using System.Security.Cryptography;
using System.Text.Json;

namespace CalendarWatch.Tests.Auth
{
    /// <summary>
    /// A service account made up for one test: a fresh RSA key, its public half for the emulator, and key files
    /// written to a private temp directory (deleted on Dispose).
    /// </summary>
    internal sealed class TestServiceAccount : IDisposable
    {
        private readonly RSA _rsa = RSA.Create(2048);

        public TestServiceAccount(string? tokenUri, string? name = null)
        {
            ClientEmail = (name ?? "watcher-" + Guid.NewGuid().ToString("N").Substring(0, 8)) + "@test-project.iam.gserviceaccount.com";
            ClientId = ((ulong)Random.Shared.NextInt64(100000000000000000L, long.MaxValue)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            PrivateKeyId = Guid.NewGuid().ToString("N");
            TokenUri = tokenUri;
            PrivateKeyPem = _rsa.ExportPkcs8PrivateKeyPem();
            PublicKeyPem = _rsa.ExportSubjectPublicKeyInfoPem();
            Directory = Path.Combine(Path.GetTempPath(), "cw-auth-" + Guid.NewGuid().ToString("N"));
            System.IO.Directory.CreateDirectory(Directory);
        }

        public string ClientEmail { get; }

        public string ClientId { get; }

        public string PrivateKeyId { get; }

        public string? TokenUri { get; }

        public string PrivateKeyPem { get; }

        public string PublicKeyPem { get; }

        public string Directory { get; }

        /// <summary>The base64 body of the private key: what must never appear in any message.</summary>
        public IEnumerable<string> PrivateKeyFragments
        {
            get
            {
                var body = PrivateKeyPem.Replace("-----BEGIN PRIVATE KEY-----", string.Empty).Replace("-----END PRIVATE KEY-----", string.Empty).Replace("\n", string.Empty).Replace("\r", string.Empty);
                for (var i = 0; i + 24 <= body.Length; i += 200) yield return body.Substring(i, 24);
                yield return "PRIVATE KEY";
            }
        }

        /// <summary>The key file Google would hand out, with token_uri pointing wherever the test says.</summary>
        public Dictionary<string, string> KeyJson() => new Dictionary<string, string>
        {
            ["type"] = "service_account",
            ["project_id"] = "test-project",
            ["private_key_id"] = PrivateKeyId,
            ["private_key"] = PrivateKeyPem,
            ["client_email"] = ClientEmail,
            ["client_id"] = ClientId,
            ["auth_uri"] = "https://accounts.google.com/o/oauth2/auth",
            ["token_uri"] = TokenUri ?? "https://oauth2.googleapis.com/token",
        };

        public string WriteKeyFile(string? fileName = null) => Write(fileName ?? "key.json", KeyJson());

        public string Write(string fileName, object content)
        {
            var path = Path.Combine(Directory, fileName);
            File.WriteAllText(path, content as string ?? JsonSerializer.Serialize(content));
            return path;
        }

        public void Dispose()
        {
            _rsa.Dispose();
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
