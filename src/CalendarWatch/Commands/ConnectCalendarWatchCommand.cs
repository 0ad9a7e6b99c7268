using System;
using System.Management.Automation;
using System.Runtime.InteropServices;
using System.Security;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Auth;

namespace CalendarWatch.Commands
{
    /// <summary>
    /// Stores the connection the other cmdlets use for the rest of the session. Every way of connecting ends in one
    /// <see cref="CalendarConnection"/> built by the engine (<see cref="ConnectionFactory"/>) and handed to
    /// <see cref="CalendarWatchSession"/>; -NoStore returns it instead, for -Connection.
    /// </summary>
    [Cmdlet(VerbsCommunications.Connect, "CalendarWatch", DefaultParameterSetName = AccessTokenSet, HelpUri = HelpLinks.Base + "Connect-CalendarWatch.md")]
    [OutputType(typeof(ConnectionInfo))]
    public sealed class ConnectCalendarWatchCommand : PSCmdlet
    {
        private const string AccessTokenSet = "AccessToken";
        private const string EmulatorSet = "Emulator";
        private const string KeyFileSet = "KeyFile";
        private const string ApplicationDefaultSet = "ApplicationDefault";

        [Parameter(Mandatory = true, ParameterSetName = AccessTokenSet, HelpMessage = "An OAuth 2.0 access token you already hold, as a SecureString (Read-Host -AsSecureString).")]
        [ValidateNotNull]
        public SecureString? AccessToken { get; set; }

        [Parameter(Mandatory = true, ParameterSetName = KeyFileSet, HelpMessage = "The path of a service account's JSON key. Only a key of type service_account is accepted.")]
        [ValidateNotNullOrEmpty]
        public string? KeyFile { get; set; }

        [Parameter(Mandatory = true, ParameterSetName = ApplicationDefaultSet, HelpMessage = "Use Application Default Credentials: GOOGLE_APPLICATION_CREDENTIALS, gcloud's ADC file, or the metadata server.")]
        public SwitchParameter ApplicationDefault { get; set; }

        [Parameter(ParameterSetName = KeyFileSet, HelpMessage = "The Workspace user to act as when an item gives no -Subject (domain-wide delegation), e.g. admin@example.com.")]
        [Parameter(ParameterSetName = ApplicationDefaultSet, HelpMessage = "The Workspace user to act as when an item gives no -Subject (domain-wide delegation; needs a service account).")]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(SubjectCompleter))]
        public string? Subject { get; set; }

        [Parameter(ParameterSetName = AccessTokenSet, HelpMessage = "The API root to call; default https://www.googleapis.com/ (https, or http on loopback only).")]
        [Parameter(ParameterSetName = KeyFileSet, HelpMessage = "The API root to call; default https://www.googleapis.com/ (https, or http on loopback only).")]
        [Parameter(ParameterSetName = ApplicationDefaultSet, HelpMessage = "The API root to call; default https://www.googleapis.com/ (https, or http on loopback only).")]
        [ValidateNotNull]
        public Uri? ApiEndpoint { get; set; }

        [Parameter(ParameterSetName = AccessTokenSet, HelpMessage = "The Google Calendar scopes every call asks for, one per value (full URLs or short names such as calendar.readonly). Default: the narrowest scope per method.")]
        [Parameter(ParameterSetName = KeyFileSet, HelpMessage = "The Google Calendar scopes every call asks for, one per value (full URLs or short names such as calendar.readonly). Default: the narrowest scope per method.")]
        [Parameter(ParameterSetName = ApplicationDefaultSet, HelpMessage = "The Google Calendar scopes every call asks for, one per value (full URLs or short names such as calendar.readonly). Default: the narrowest scope per method.")]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ScopeCompleter))]
        public string[]? Scope { get; set; }

        [Parameter(Mandatory = true, ParameterSetName = EmulatorSet, HelpMessage = "The local CalendarWatch emulator started with --no-auth, as a URL (http://127.0.0.1:8085/) or host:port.")]
        [ValidateNotNull]
        public Uri? Emulator { get; set; }

        [Parameter(HelpMessage = "The http proxy for token and API requests, as http://proxy.example.com:8080 or host:port. Default: the system proxy (HTTP_PROXY/HTTPS_PROXY/NO_PROXY off Windows).")]
        [ValidateNotNull]
        public Uri? Proxy { get; set; }

        [Parameter(HelpMessage = "The account for a proxy that asks for one (407), from Get-Credential; with -Proxy or for the system proxy. Never shown.")]
        [ValidateNotNull]
        [Credential]
        public PSCredential? ProxyCredential { get; set; }

        [Parameter(HelpMessage = "Return the connection's description (kind, account, subject, scopes, endpoint; never a secret), usable as -Connection.")]
        public SwitchParameter PassThru { get; set; }

        [Parameter(HelpMessage = "Return the connection without making it the session's connection (implies -PassThru): for scripts that talk as several identities through -Connection.")]
        public SwitchParameter NoStore { get; set; }

        [Parameter(HelpMessage = "Retries after a failed attempt (5xx, broken connection, timeout), 0-100; default 5. 0 retries nothing. Rate-limit answers (403 rate limits, 429) are retried within -RetryTimeLimit instead.")]
        [ValidateRange(0, 100)]
        public int MaxRetry { get; set; } = RetrySettings.DefaultMaxRetry;

        [Parameter(HelpMessage = "The longest one request may spend retrying, counted from its first attempt; default 2 minutes (one per-minute quota window and then some).")]
        public TimeSpan RetryTimeLimit { get; set; } = RetrySettings.DefaultRetryTimeLimit;

        protected override void EndProcessing()
        {
            ProxySettings proxy;
            try
            {
                proxy = CreateProxySettings();
            }
            catch (CalendarWatchException ex)
            {
                // No target object: the -Proxy value may carry a password (the message shows it redacted).
                ThrowTerminatingError(ErrorRecords.From(ex, null));
                throw;
            }

            CalendarConnection connection;
            try
            {
                connection = Create(proxy);
            }
            catch (CalendarWatchException ex)
            {
                ThrowTerminatingError(ErrorRecords.From(ex, ParameterSetName == KeyFileSet ? KeyFile : (object?)ApiEndpoint));
                throw;
            }

            ApplyRetrySettings(connection);
            var info = new ConnectionInfo(connection);
            var returned = PassThru || NoStore;
            if (NoStore)
            {
                WriteVerbose($"Connected (not stored; use the returned object with -Connection): {info}.");
            }
            else
            {
                CalendarWatchSession.Set(connection, handedOut: returned);
                WriteVerbose($"Connected: {info}.");
            }

            // The first request's in-memory setup (the retry pipeline, the wire JSON), once per process, off its path.
            Warmup.Start();
            if (connection.FetchesTokens)
            {
                WriteVerbose($"Fetching the first token ({connection.DefaultSubject ?? connection.Account ?? "the connection's identity"}; {string.Join(" ", connection.PrefetchScopes)}) in the background: the first command that needs it waits for it, and reports any failure.");
                _ = connection.PrefetchTokenAsync();
            }

            if (returned)
            {
                WriteObject(info);
            }
        }

        private CalendarConnection Create(ProxySettings proxy)
        {
            WriteVerbose($"Token and API requests go through {proxy}.");
            switch (ParameterSetName)
            {
                case EmulatorSet:
                    return CalendarConnection.ForEmulator(EmulatorEndpoint(Emulator!), proxy);
                case KeyFileSet:
                    // Relative paths and ~ resolve against the current PowerShell location, not the process's folder.
                    var path = SessionState.Path.GetUnresolvedProviderPathFromPSPath(KeyFile!);
                    return ConnectionFactory.ConnectServiceAccount(path, Subject, Scope, ApiEndpoint, proxy);
                case ApplicationDefaultSet:
                    return ConnectionFactory.ConnectApplicationDefault(Subject, Scope, ApiEndpoint, proxy);
                default:
                    // Absolute https, or http on loopback only: the engine's one rule for every token-bearing connection.
                    var endpoint = ConnectionFactory.ValidateApiEndpoint(ApiEndpoint);
                    var scopes = ConnectionFactory.NormalizeScopeOverride(Scope);
                    var token = ToPlainText(AccessToken!);
                    if (string.IsNullOrWhiteSpace(token))
                    {
                        ThrowTerminatingError(ErrorRecords.InvalidArgument("CalendarWatch.InvalidAccessToken",
                            "The access token is empty. Give the token you hold, for example (Read-Host -AsSecureString).", null));
                    }

                    return new CalendarConnection(ConnectionKind.AccessToken, endpoint, new StaticTokenSource(token.Trim()), defaultSubject: null, scopes: scopes, proxy: proxy);
            }
        }

        /// <summary>-Proxy and -ProxyCredential: one proxy, or the system proxy (with the credential, when given).</summary>
        private ProxySettings CreateProxySettings()
        {
            var credential = ProxyCredential is null || ProxyCredential == PSCredential.Empty ? null : ProxyCredential.GetNetworkCredential();
            return Proxy is null ? ProxySettings.SystemWith(credential) : ProxySettings.For(Proxy, credential);
        }

        /// <summary>-MaxRetry and -RetryTimeLimit, for every way of connecting (like Set-MgRequestContext).</summary>
        private void ApplyRetrySettings(CalendarConnection connection)
        {
            if (RetryTimeLimit < TimeSpan.Zero)
            {
                connection.Dispose();
                ThrowTerminatingError(ErrorRecords.InvalidArgument("CalendarWatch.InvalidRetryTimeLimit",
                    new ArgumentOutOfRangeException(nameof(RetryTimeLimit), RetryTimeLimit, $"-RetryTimeLimit {RetryTimeLimit} is negative. Give a duration such as (New-TimeSpan -Minutes 2), or 0 to never wait for a retry."), RetryTimeLimit));
            }

            var current = connection.Retry;
            var settings = new RetrySettings { MaxRetry = MaxRetry, RetryTimeLimit = RetryTimeLimit, BaseDelay = current.BaseDelay, MaxDelay = current.MaxDelay };
            connection.Retry = settings;
            WriteVerbose($"Retries: {settings}.");
        }

        /// <summary>Accepts a URL or Google's emulator convention host:port (which binds as a relative Uri).</summary>
        private Uri EmulatorEndpoint(Uri value)
        {
            try
            {
                if (value.IsAbsoluteUri && (value.Scheme == Uri.UriSchemeHttp || value.Scheme == Uri.UriSchemeHttps))
                {
                    return value;
                }

                return CalendarConnection.ParseEmulatorHost(value.OriginalString);
            }
            catch (ArgumentException)
            {
                ThrowTerminatingError(ErrorRecords.InvalidArgument("CalendarWatch.InvalidEmulatorAddress",
                    $"The emulator address '{value.OriginalString}' is neither an http(s) URL nor host:port. Give it as http://127.0.0.1:8085/ or 127.0.0.1:8085.", value));
                throw;
            }
        }

        /// <summary>Copies the SecureString out through unmanaged memory that is zeroed at once.</summary>
        private static string ToPlainText(SecureString secure)
        {
            var pointer = IntPtr.Zero;
            try
            {
                pointer = Marshal.SecureStringToGlobalAllocUnicode(secure);
                return Marshal.PtrToStringUni(pointer) ?? string.Empty;
            }
            finally
            {
                if (pointer != IntPtr.Zero)
                {
                    Marshal.ZeroFreeGlobalAllocUnicode(pointer);
                }
            }
        }
    }
}
