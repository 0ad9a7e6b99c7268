using System;
using System.Collections.Generic;
using System.IO;
using System.Security.Cryptography;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;

namespace CalendarWatch.Benchmarks
{
    /// <summary>
    /// A service-account key made for one benchmark run: an RSA key registered with the emulator, written as a
    /// Google key file (token_uri = the emulator's token endpoint) in a temporary folder deleted on dispose.
    /// </summary>
    internal sealed class ServiceAccountKeyFile : IDisposable
    {
        public const string ClientEmail = "benchmark@calendarwatch-bench.iam.gserviceaccount.com";
        public const string ClientId = "100000000000000000001";

        private static readonly Lazy<RSA> SharedKey = new Lazy<RSA>(() => RSA.Create(2048));

        private readonly string _folder;

        private ServiceAccountKeyFile(string folder, string path)
        {
            _folder = folder;
            Path = path;
        }

        public string Path { get; }

        public static Task<ServiceAccountKeyFile> CreateAsync(EmulatorProcess emulator, CancellationToken cancellationToken) =>
            CreateAsync(emulator, ClientEmail, ClientId, new Uri(emulator.BaseUri, "token"), cancellationToken);

        /// <summary>Another identity: its own email and client id, and a token_uri that may point elsewhere (a closed port).</summary>
        public static Task<ServiceAccountKeyFile> CreateAsync(EmulatorProcess emulator, string clientEmail, string clientId, Uri tokenUri, CancellationToken cancellationToken) =>
            CreateAsync(emulator, clientEmail, clientId, tokenUri, null, cancellationToken);

        /// <summary>An identity that may impersonate <paramref name="subjects"/> (domain-wide delegation).</summary>
        public static async Task<ServiceAccountKeyFile> CreateAsync(EmulatorProcess emulator, string clientEmail, string clientId, Uri tokenUri, IReadOnlyList<string>? subjects, CancellationToken cancellationToken)
        {
            // One key pair for every identity of the run: making a 2048-bit key costs a second on a busy machine.
            var rsa = SharedKey.Value;
            await emulator.RegisterServiceAccountAsync(clientEmail, clientId, rsa.ExportSubjectPublicKeyInfoPem(), subjects, cancellationToken).ConfigureAwait(false);
            var folder = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "calendarwatch-bench-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(folder);
            var path = System.IO.Path.Combine(folder, "key.json");
            var json = JsonSerializer.Serialize(new Dictionary<string, string>
            {
                ["type"] = "service_account",
                ["project_id"] = "calendarwatch-bench",
                ["private_key_id"] = "bench-key",
                ["private_key"] = rsa.ExportPkcs8PrivateKeyPem(),
                ["client_email"] = clientEmail,
                ["client_id"] = clientId,
                ["token_uri"] = tokenUri.AbsoluteUri,
            });
            await File.WriteAllTextAsync(path, json, cancellationToken).ConfigureAwait(false);
            return new ServiceAccountKeyFile(folder, path);
        }

        public void Dispose()
        {
            try
            {
                Directory.Delete(_folder, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
