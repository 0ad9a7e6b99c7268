using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Google.Apis.Auth.OAuth2;
using Google.Apis.Util;

namespace CalendarWatch.Engine.Auth
{
    /// <summary>
    /// Builds <see cref="CalendarConnection"/>s for each way of connecting, so that Connect-CalendarWatch stays a thin
    /// parameter mapping. Every failure is a <see cref="CalendarWatchException"/> whose message names the fix.
    /// </summary>
    public static class ConnectionFactory
    {
        /// <summary>
        /// <c>Connect-CalendarWatch -KeyFile</c>: a service-account JSON key, loaded as a service account only (any
        /// other <c>type</c> is refused before any network call). Token requests go to the key's <c>token_uri</c>;
        /// API calls go to <paramref name="apiEndpoint"/> (Google's when null).
        /// </summary>
        /// <param name="subject">The user to impersonate by default (domain-wide delegation); null = the service account itself.</param>
        /// <param name="scopes">Scopes for every call (short names like <c>calendar.readonly</c> are completed); null = narrowest per method.</param>
        /// <param name="proxy">The proxy for token and API requests; null = the system proxy.</param>
        public static CalendarConnection ConnectServiceAccount(string keyFilePath, string? subject, IReadOnlyList<string>? scopes, Uri? apiEndpoint, ProxySettings? proxy = null)
            => ConnectServiceAccount(ServiceAccountKey.Load(keyFilePath), subject, scopes, apiEndpoint, clock: null, proxy: proxy);

        /// <summary>
        /// The same from a loaded key. <paramref name="clock"/> is the clock Google.Apis.Auth signs and expires tokens
        /// by (null = the system clock); tests pass one they control.
        /// </summary>
        public static CalendarConnection ConnectServiceAccount(ServiceAccountKey key, string? subject, IReadOnlyList<string>? scopes, Uri? apiEndpoint, IClock? clock = null, ProxySettings? proxy = null)
        {
            if (key is null) throw new ArgumentNullException(nameof(key));
            var defaultSubject = GoogleTokenSource.NormalizeSubject(subject);
            var scopeOverride = NormalizeScopeOverride(scopes);
            return new CalendarConnection(ConnectionKind.ServiceAccount, ValidateApiEndpoint(apiEndpoint), CreateServiceAccountTokenSource(key, clock, proxy), defaultSubject, scopeOverride, proxy: proxy);
        }

        /// <summary>A token source for a service account key: one credential per (subject, scope set); token requests through <paramref name="proxy"/> (null = the system proxy).</summary>
        public static GoogleTokenSource CreateServiceAccountTokenSource(ServiceAccountKey key, IClock? clock = null, ProxySettings? proxy = null)
        {
            if (key is null) throw new ArgumentNullException(nameof(key));
            return new GoogleTokenSource(
                (subject, scopes) => key.CreateCredential(subject, scopes, clock, proxy),
                account: key.ClientEmail,
                clientId: key.ClientId,
                supportsSubject: true,
                description: $"service account {key.ClientEmail} (token endpoint {key.TokenUri.GetLeftPart(UriPartial.Path)})");
        }

        /// <summary>
        /// <c>Connect-CalendarWatch -ApplicationDefault</c>: <c>GOOGLE_APPLICATION_CREDENTIALS</c>, the gcloud ADC file
        /// (a user's refresh token; the user chose it) or the metadata server, through
        /// <see cref="GoogleCredential.GetApplicationDefault"/>.
        /// </summary>
        public static CalendarConnection ConnectApplicationDefault(string? subject, IReadOnlyList<string>? scopes, Uri? apiEndpoint, ProxySettings? proxy = null)
            => ConnectCredential(LoadApplicationDefault(), ConnectionKind.ApplicationDefault, subject, scopes, apiEndpoint, proxy);

        /// <summary>The variable naming an ADC file (Google's convention).</summary>
        public const string CredentialsVariable = "GOOGLE_APPLICATION_CREDENTIALS";

        /// <summary>
        /// Application Default Credentials, looked up afresh on every call (Google.Apis.Auth's own lookup caches its
        /// first answer, even a failure, for the life of the process — a PowerShell session): the file named by
        /// GOOGLE_APPLICATION_CREDENTIALS, else gcloud's application_default_credentials.json, else the metadata server.
        /// A file of any credential type is accepted here, because the user chose ADC.
        /// </summary>
        public static GoogleCredential LoadApplicationDefault()
        {
            var named = Environment.GetEnvironmentVariable(CredentialsVariable);
            if (!string.IsNullOrWhiteSpace(named))
            {
                return LoadAdcFile(named!, $"the file named by {CredentialsVariable}");
            }

            var wellKnown = GcloudAdcFile();
            if (wellKnown != null && File.Exists(wellKnown))
            {
                return LoadAdcFile(wellKnown, "gcloud's application default credentials file");
            }

            try
            {
                // Only the metadata server is left; the library checks for it (and caches that answer).
                return GoogleCredential.GetApplicationDefaultAsync().GetAwaiter().GetResult();
            }
            catch (InvalidOperationException ex)
            {
                throw new CalendarWatchException("CalendarWatch.NoApplicationDefaultCredentials", FailureKind.AuthenticationError,
                    $"No Application Default Credentials were found: {CredentialsVariable} is not set, there is no {wellKnown ?? "gcloud application_default_credentials.json"}, and this is not a Google Cloud machine. " +
                    "Run 'gcloud auth application-default login', or set GOOGLE_APPLICATION_CREDENTIALS to a service account key, or connect with Connect-CalendarWatch -KeyFile, -AccessToken or -Emulator.", ex);
            }
        }

        private static GoogleCredential LoadAdcFile(string path, string what)
        {
            string? json;
            CredentialFileProblem? problem;
            try
            {
                // A regular file of at most 64 KiB: a directory, FIFO, device or socket is named, never opened.
                json = CredentialFile.TryRead(path, out problem);
            }
            catch (Exception ex) when (ex is ArgumentException || ex is NotSupportedException || ex is PathTooLongException)
            {
                json = null;
                problem = new CredentialFileProblem("CalendarWatch.KeyFileNotFound", FailureKind.InvalidArgument, $"is not a valid path ({ex.Message}).");
            }

            if (json is null)
            {
                throw new CalendarWatchException("CalendarWatch.NoApplicationDefaultCredentials", FailureKind.AuthenticationError,
                    $"Application Default Credentials: {what}, '{path}', {problem!.Text} Fix or unset {CredentialsVariable}, or run 'gcloud auth application-default login'.");
            }

            string? type = null;
            try
            {
                using var document = System.Text.Json.JsonDocument.Parse(json);
                if (document.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object &&
                    document.RootElement.TryGetProperty("type", out var value) && value.ValueKind == System.Text.Json.JsonValueKind.String)
                {
                    type = value.GetString();
                }
            }
            catch (System.Text.Json.JsonException ex)
            {
                throw new CalendarWatchException("CalendarWatch.NoApplicationDefaultCredentials", FailureKind.AuthenticationError,
                    $"Application Default Credentials: {what}, '{path}', is not valid JSON (line {(ex.LineNumber ?? 0) + 1}). Fix or unset {CredentialsVariable}, or run 'gcloud auth application-default login'.");
            }

            if (string.IsNullOrEmpty(type))
            {
                throw new CalendarWatchException("CalendarWatch.NoApplicationDefaultCredentials", FailureKind.AuthenticationError,
                    $"Application Default Credentials: {what}, '{path}', has no \"type\". Give a service account key or run 'gcloud auth application-default login'.");
            }

            try
            {
                return CredentialFactory.FromJson(json, type!);
            }
            catch (Exception ex) when (ex is InvalidOperationException || ex is ArgumentException || ex is FormatException || ex is System.Security.Cryptography.CryptographicException)
            {
                // The library's message names the problem, not the content; no inner exception, which could.
                throw new CalendarWatchException("CalendarWatch.NoApplicationDefaultCredentials", FailureKind.AuthenticationError,
                    $"Application Default Credentials: {what}, '{path}' (type '{type}'), cannot be used: {ex.GetType().Name}. Check the file, or run 'gcloud auth application-default login'.");
            }
        }

        /// <summary>Where 'gcloud auth application-default login' writes its file (CLOUDSDK_CONFIG overrides the folder).</summary>
        private static string? GcloudAdcFile()
        {
            var folder = Environment.GetEnvironmentVariable("CLOUDSDK_CONFIG");
            if (string.IsNullOrWhiteSpace(folder))
            {
                var isWindows = Path.DirectorySeparatorChar == '\\';
                var root = isWindows ? Environment.GetFolderPath(Environment.SpecialFolder.ApplicationData) : Environment.GetEnvironmentVariable("HOME");
                if (string.IsNullOrEmpty(root)) return null;
                folder = isWindows ? Path.Combine(root, "gcloud") : Path.Combine(root, ".config", "gcloud");
            }

            return Path.Combine(folder, "application_default_credentials.json");
        }

        /// <summary>
        /// A connection over any Google.Apis.Auth credential the caller obtained deliberately (ADC, a user login).
        /// A subject requires a service account credential.
        /// </summary>
        public static CalendarConnection ConnectCredential(GoogleCredential credential, ConnectionKind kind, string? subject, IReadOnlyList<string>? scopes, Uri? apiEndpoint, ProxySettings? proxy = null)
        {
            if (credential is null) throw new ArgumentNullException(nameof(credential));
            // Token requests through the connection's proxy; the metadata server (link-local, on the machine's own
            // network) is asked directly.
            if (credential.UnderlyingCredential is not ComputeCredential)
            {
                credential = credential.CreateWithHttpClientFactory(new ProxyHttpClientFactory(proxy ?? ProxySettings.System));
            }

            var defaultSubject = GoogleTokenSource.NormalizeSubject(subject);
            var scopeOverride = NormalizeScopeOverride(scopes);
            var tokenSource = CreateTokenSource(credential);
            if (defaultSubject != null && !tokenSource.SupportsSubject)
            {
                throw new CalendarWatchException("CalendarWatch.SubjectNotSupported", FailureKind.InvalidArgument,
                    $"-Subject '{defaultSubject}' needs a service account with domain-wide delegation, but these credentials are {tokenSource.Account ?? "not a service account"}. Leave -Subject out, or connect with -KeyFile.")
                { Subject = defaultSubject };
            }

            return new CalendarConnection(kind, ValidateApiEndpoint(apiEndpoint), tokenSource, defaultSubject, scopeOverride, proxy: proxy);
        }

        /// <summary>A token source over a <see cref="GoogleCredential"/>: per key, CreateWithUser(subject).CreateScoped(scopes).</summary>
        public static GoogleTokenSource CreateTokenSource(GoogleCredential credential)
        {
            if (credential is null) throw new ArgumentNullException(nameof(credential));
            var underlying = credential.UnderlyingCredential;
            string account;
            string? clientId = null;
            var isServiceAccount = false;
            switch (underlying)
            {
                case ServiceAccountCredential serviceAccount:
                    account = serviceAccount.Id;
                    isServiceAccount = true;
                    break;
                case UserCredential user:
                    clientId = user.Flow is Google.Apis.Auth.OAuth2.Flows.AuthorizationCodeFlow flow ? flow.ClientSecrets?.ClientId : null;
                    account = "user credentials (gcloud auth application-default login)";
                    break;
                case ComputeCredential _:
                    account = "the metadata server's service account";
                    break;
                default:
                    account = underlying?.GetType().Name ?? "application default credentials";
                    break;
            }

            return new GoogleTokenSource(
                (subject, scopes) =>
                {
                    var forKey = subject is null ? credential : credential.CreateWithUser(subject);
                    return forKey.CreateScoped(scopes);
                },
                account,
                clientId,
                supportsSubject: isServiceAccount,
                description: account);
        }

        /// <summary>
        /// What a watch cmdlet uses when no connection was made: the emulator named by
        /// <c>CALENDARWATCH_EMULATOR_HOST</c>, else Application Default Credentials against Google.
        /// <paramref name="description"/> says which, for -Verbose.
        /// </summary>
        public static CalendarConnection ConnectDefault(out string description)
        {
            var emulator = CalendarConnection.FromEnvironment();
            if (emulator != null)
            {
                description = $"No connection was made: using the emulator at {emulator.ApiEndpoint} ({CalendarConnection.EmulatorHostVariable}).";
                return emulator;
            }

            var connection = ConnectApplicationDefault(null, null, null);
            description = $"No connection was made and {CalendarConnection.EmulatorHostVariable} is not set: using Application Default Credentials ({connection.Account}). Run Connect-CalendarWatch to choose.";
            return connection;
        }

        /// <summary>
        /// The API root for a connection that sends tokens: Google's when null; otherwise absolute https, or http on
        /// loopback only (a bearer token over plain http to another machine could be read on the way).
        /// </summary>
        public static Uri ValidateApiEndpoint(Uri? apiEndpoint)
        {
            if (apiEndpoint is null) return CalendarConnection.GoogleApiEndpoint;
            if (!apiEndpoint.IsAbsoluteUri || (apiEndpoint.Scheme != Uri.UriSchemeHttps && apiEndpoint.Scheme != Uri.UriSchemeHttp))
            {
                throw new CalendarWatchException("CalendarWatch.InvalidApiEndpoint", FailureKind.InvalidArgument,
                    $"The API endpoint '{apiEndpoint.OriginalString}' is not an absolute http(s) URL. Give a root such as {CalendarConnection.GoogleApiEndpoint}.");
            }

            if (!string.IsNullOrEmpty(apiEndpoint.UserInfo))
            {
                throw new CalendarWatchException("CalendarWatch.InvalidApiEndpoint", FailureKind.InvalidArgument,
                    $"The API endpoint '{RequestValidation.Redact(apiEndpoint)}' carries a user name or password, which would show in the connection, -Verbose and errors. Give the root without it; CalendarWatch authenticates with the connection's credentials.");
            }

            if (apiEndpoint.Scheme == Uri.UriSchemeHttp && !apiEndpoint.IsLoopback)
            {
                throw new CalendarWatchException("CalendarWatch.InsecureApiEndpoint", FailureKind.PermissionDenied,
                    $"The API endpoint '{apiEndpoint.OriginalString}' is plain http on another machine, which would send access tokens unencrypted. Use https, or an http endpoint on loopback.");
            }

            return apiEndpoint;
        }

        /// <summary>
        /// Scopes given on Connect (-Scope): each value one Calendar scope, a full URL or a short name such as
        /// <c>calendar.readonly</c>; returned completed, distinct and sorted. Null or empty = narrowest per method.
        /// A value that is not a Calendar scope (a misspelling, another API's scope, several scopes in one value) is
        /// <c>CalendarWatch.InvalidScope</c>, naming it as given and the closest Calendar scope.
        /// </summary>
        public static IReadOnlyList<string>? NormalizeScopeOverride(IReadOnlyList<string>? scopes)
        {
            if (scopes is null || scopes.Count == 0) return null;
            var complete = new List<string>(scopes.Count);
            foreach (var scope in scopes)
            {
                complete.Add(ScopeInput.Validate(scope));
            }

            return ScopeList.Normalize(complete);
        }
    }
}
