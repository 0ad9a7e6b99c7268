using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using Google.Apis.Auth.OAuth2;
using Google.Apis.Util;

namespace CalendarWatch.Engine.Auth
{
    /// <summary>
    /// A service-account JSON key, loaded as a service account only. The file's <c>type</c> is read before anything
    /// else and anything but <c>service_account</c> is refused, so a crafted credential file (external_account,
    /// authorized_user, impersonated_service_account...) can never make CalendarWatch run a command, read a file or
    /// send a token somewhere. The private key stays inside Google.Apis.Auth's credential; this type never exposes it.
    /// </summary>
    public sealed class ServiceAccountKey
    {
        /// <summary>The only credential type a key file may have.</summary>
        public const string ServiceAccountType = "service_account";

        /// <summary>Google's token endpoint, used when the key file names none.</summary>
        public const string GoogleTokenUri = "https://oauth2.googleapis.com/token";

        private readonly ServiceAccountCredential _credential;

        private ServiceAccountKey(string source, ServiceAccountCredential credential, string? clientId, string tokenUri)
        {
            Source = source;
            _credential = credential;
            ClientId = clientId;
            TokenUri = new Uri(tokenUri);
        }

        /// <summary>Where the key came from (the file's full path), for messages.</summary>
        public string Source { get; }

        /// <summary>The service account's email (<c>client_email</c>): the JWT's <c>iss</c>.</summary>
        public string ClientEmail => _credential.Id;

        /// <summary>The numeric OAuth client ID (<c>client_id</c>) that the Admin console's domain-wide delegation page lists.</summary>
        public string? ClientId { get; }

        /// <summary>The key's id (<c>private_key_id</c>, public: it names the key in IAM, it is not the key).</summary>
        public string? KeyId => _credential.KeyId;

        public string? ProjectId => _credential.ProjectId;

        /// <summary>Where token requests go (the file's <c>token_uri</c>; Google's when absent).</summary>
        public Uri TokenUri { get; }

        /// <summary>Reads a key file. Every failure is a <see cref="CalendarWatchException"/> naming the file and the fix.</summary>
        public static ServiceAccountKey Load(string keyFilePath)
        {
            if (string.IsNullOrWhiteSpace(keyFilePath))
            {
                throw new CalendarWatchException("CalendarWatch.KeyFileNotFound", FailureKind.InvalidArgument,
                    "No key file was given. Give the path of the service account's JSON key (Cloud console: IAM & Admin > Service accounts > Keys > Add key > JSON).");
            }

            string fullPath;
            try
            {
                fullPath = Path.GetFullPath(keyFilePath);
            }
            catch (Exception ex) when (ex is ArgumentException || ex is NotSupportedException || ex is PathTooLongException)
            {
                throw new CalendarWatchException("CalendarWatch.KeyFileNotFound", FailureKind.InvalidArgument,
                    $"The key file path '{keyFilePath}' is not a valid path ({ex.Message}).");
            }

            // A regular file of at most 64 KiB: a directory, FIFO, device or socket is named, never opened.
            var json = CredentialFile.TryRead(fullPath, out var problem);
            if (json is null)
            {
                var advice = problem!.ErrorId == "CalendarWatch.KeyFileUnreadable" ? string.Empty
                    : " Give the path of the service account's JSON key file (Cloud console: IAM & Admin > Service accounts > Keys > Add key > JSON).";
                throw new CalendarWatchException(problem.ErrorId, problem.Kind, $"The key file '{fullPath}' {problem.Text}{advice}");
            }

            return Parse(json, fullPath);
        }

        /// <summary>
        /// Parses a key's JSON text. <paramref name="source"/> names it in messages (a path, or e.g. "the key text").
        /// No network call is made.
        /// </summary>
        public static ServiceAccountKey Parse(string json, string source)
        {
            if (json is null) throw new ArgumentNullException(nameof(json));
            source = string.IsNullOrEmpty(source) ? "the key" : source;

            string? type, clientEmail, privateKey, clientId, tokenUri;
            try
            {
                using var document = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
                if (document.RootElement.ValueKind != JsonValueKind.Object)
                {
                    throw InvalidKey(source, "is JSON but not an object. A service account key is a JSON object with \"type\": \"service_account\".");
                }

                var root = document.RootElement;
                type = StringField(root, "type", source);
                clientEmail = StringField(root, "client_email", source);
                privateKey = StringField(root, "private_key", source);
                clientId = StringField(root, "client_id", source);
                tokenUri = StringField(root, "token_uri", source);
            }
            catch (JsonException ex)
            {
                // The parser's own message can quote the text near the error, which may be key material: give only the position.
                throw InvalidKey(source, $"is not valid JSON (line {(ex.LineNumber ?? 0) + 1}, byte {(ex.BytePositionInLine ?? 0) + 1}). Download the service account's JSON key again.");
            }

            if (string.IsNullOrEmpty(type))
            {
                throw InvalidKey(source, "has no \"type\" field. A service account key has \"type\": \"service_account\"; download the key again (IAM & Admin > Service accounts > Keys > Add key > JSON).");
            }

            if (!string.Equals(type, ServiceAccountType, StringComparison.Ordinal))
            {
                throw new CalendarWatchException("CalendarWatch.UnsupportedCredentialType", FailureKind.InvalidArgument,
                    $"The credential file {Quote(source)} has type '{Printable(type!)}', not '{ServiceAccountType}'. A key file is loaded as a service account key only. {AdviceFor(type!)}");
            }

            if (string.IsNullOrEmpty(clientEmail))
            {
                throw InvalidKey(source, "has no \"client_email\". A service account key names its service account there; download the key again.");
            }

            if (string.IsNullOrEmpty(privateKey))
            {
                throw InvalidKey(source, $"has no \"private_key\" (service account {clientEmail}). Download the key again; a key whose private part was removed cannot sign.");
            }

            var effectiveTokenUri = string.IsNullOrEmpty(tokenUri) ? GoogleTokenUri : tokenUri!;
            if (!Uri.TryCreate(effectiveTokenUri, UriKind.Absolute, out var parsedTokenUri) ||
                !(parsedTokenUri.Scheme == Uri.UriSchemeHttps || (parsedTokenUri.Scheme == Uri.UriSchemeHttp && parsedTokenUri.IsLoopback)))
            {
                throw InvalidKey(source, $"has \"token_uri\": '{Printable(effectiveTokenUri)}', which is not an https URL (plain http is accepted only on loopback, for a local emulator). Google's is {GoogleTokenUri}.");
            }

            ServiceAccountCredential loaded;
            try
            {
                // Google.Apis.Auth's supported loader, asked for a service account only. It honours token_uri.
                loaded = CredentialFactory.FromJson<ServiceAccountCredential>(json);
            }
            catch (Exception ex) when (ex is InvalidOperationException || ex is ArgumentException || ex is FormatException || ex is System.Security.Cryptography.CryptographicException)
            {
                // No inner exception and no library message: either could quote the key.
                throw InvalidKey(source, $"has a \"private_key\" that cannot be read as a PKCS#8 PEM RSA key ({ex.GetType().Name}; service account {clientEmail}). Download a new JSON key.");
            }

            return new ServiceAccountKey(source, loaded, string.IsNullOrEmpty(clientId) ? null : clientId, effectiveTokenUri);
        }

        /// <summary>
        /// One credential for (subject, scopes), sharing this key's RSA key. Each has its own token cache and refresh;
        /// <paramref name="clock"/> is the clock Google.Apis.Auth uses for the JWT's iat/exp and for token expiry.
        /// </summary>
        internal ServiceAccountCredential CreateCredential(string? subject, IEnumerable<string> scopes, IClock? clock, ProxySettings? proxy = null)
        {
            var initializer = new ServiceAccountCredential.Initializer(_credential.Id, _credential.TokenServerUrl)
            {
                Key = _credential.Key,
                KeyId = _credential.KeyId,
                ProjectId = _credential.ProjectId,
                User = subject,
                Scopes = scopes.ToArray(),
                Clock = clock ?? SystemClock.Default,
                // Token requests go through the same proxy as the API requests.
                HttpClientFactory = new ProxyHttpClientFactory(proxy ?? ProxySettings.System),
            };
            return new ServiceAccountCredential(initializer);
        }

        public override string ToString() => $"service account {ClientEmail}" + (KeyId is null ? string.Empty : $" (key {KeyId})");

        private static string? StringField(JsonElement root, string name, string source)
        {
            if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
            if (value.ValueKind != JsonValueKind.String)
            {
                throw InvalidKey(source, $"has a \"{name}\" that is not a string. Download the service account's JSON key again.");
            }

            return value.GetString();
        }

        private static CalendarWatchException InvalidKey(string source, string what) =>
            new CalendarWatchException("CalendarWatch.InvalidKeyFile", FailureKind.InvalidArgument, $"The key file {Quote(source)} {what}");

        private static string Quote(string source) => "'" + source + "'";

        private static string AdviceFor(string type) => type switch
        {
            "authorized_user" => "This file holds a user's refresh token (for example gcloud's application_default_credentials.json). To act as that user deliberately, run Connect-CalendarWatch -ApplicationDefault; for -KeyFile, create a JSON key for a service account (IAM & Admin > Service accounts > Keys > Add key > JSON).",
            "external_account" => "This file configures workload or workforce identity federation, which can read files, call URLs or run commands to get a token; it is never loaded from -KeyFile. If you trust it, point GOOGLE_APPLICATION_CREDENTIALS at it and run Connect-CalendarWatch -ApplicationDefault.",
            "external_account_authorized_user" => "This file holds a workforce identity federation user's refresh token. If you trust it, point GOOGLE_APPLICATION_CREDENTIALS at it and run Connect-CalendarWatch -ApplicationDefault.",
            "impersonated_service_account" => "This file impersonates a service account through another credential. If you trust it, point GOOGLE_APPLICATION_CREDENTIALS at it and run Connect-CalendarWatch -ApplicationDefault, or give -KeyFile a JSON key of the service account itself.",
            "gdch_service_account" => "Google Distributed Cloud Hosted keys are not supported. Give a Google Cloud service account's JSON key.",
            _ => "Give a service account's JSON key (IAM & Admin > Service accounts > Keys > Add key > JSON).",
        };

        /// <summary>At most 64 printable characters of a value read from the file.</summary>
        private static string Printable(string value)
        {
            var builder = new StringBuilder();
            foreach (var c in value)
            {
                if (builder.Length == 64)
                {
                    builder.Append('…');
                    break;
                }

                builder.Append(char.IsControl(c) ? '?' : c);
            }

            return builder.ToString();
        }
    }
}
