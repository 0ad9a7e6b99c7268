using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using CalendarWatch.Engine.Auth;

namespace CalendarWatch.Engine
{
    /// <summary>How a connection authenticates.</summary>
    public enum ConnectionKind
    {
        Emulator,
        AccessToken,
        ServiceAccount,
        ApplicationDefault,
        UserCredential,
    }

    /// <summary>
    /// One identity talking to one API endpoint: the token source, the endpoint and one reused HttpClient.
    /// Holds no PowerShell types and prints no secret.
    /// </summary>
    public sealed class CalendarConnection : IDisposable
    {
        /// <summary>Google's API root; the Calendar API lives under <c>calendar/v3/</c>.</summary>
        public static readonly Uri GoogleApiEndpoint = new Uri("https://www.googleapis.com/");

        /// <summary>The environment variable naming a local emulator, Google's convention: <c>host:port</c>.</summary>
        public const string EmulatorHostVariable = "CALENDARWATCH_EMULATOR_HOST";

        private readonly HttpClient _http;

        public CalendarConnection(ConnectionKind kind, Uri apiEndpoint, IAccessTokenSource tokenSource, string? defaultSubject = null, IReadOnlyList<string>? scopes = null, HttpMessageHandler? handler = null, ProxySettings? proxy = null)
        {
            if (apiEndpoint is null) throw new ArgumentNullException(nameof(apiEndpoint));
            if (!apiEndpoint.IsAbsoluteUri) throw new ArgumentException($"The API endpoint '{apiEndpoint}' is not an absolute URI.", nameof(apiEndpoint));
            Kind = kind;
            ApiEndpoint = apiEndpoint.AbsoluteUri.EndsWith("/", StringComparison.Ordinal) ? apiEndpoint : new Uri(apiEndpoint.AbsoluteUri + "/");
            TokenSource = tokenSource ?? throw new ArgumentNullException(nameof(tokenSource));
            DefaultSubject = string.IsNullOrWhiteSpace(defaultSubject) ? null : defaultSubject;
            Scopes = scopes is { Count: > 0 } ? scopes : null;
            ApiHealth = new EndpointHealth("the Calendar API endpoint " + ApiEndpoint.AbsoluteUri, "(Connect-CalendarWatch -ApiEndpoint or -Emulator, or " + EmulatorHostVariable + ")");
            TokenHealth = new EndpointHealth("the token endpoint for " + TokenSource, "(for a key file, its token_uri)");
            Proxy = proxy ?? ProxySettings.System;
            _http = new HttpClient(handler ?? CreateHandler(Proxy), disposeHandler: true) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
            _http.DefaultRequestHeaders.UserAgent.ParseAdd("CalendarWatch/" + typeof(CalendarConnection).Assembly.GetName().Version?.ToString(3));
        }

        public ConnectionKind Kind { get; }

        /// <summary>The proxy API requests go through (the system proxy unless Connect-CalendarWatch -Proxy named one).</summary>
        public ProxySettings Proxy { get; }

        /// <summary>The API root, ending in a slash (Google's is https://www.googleapis.com/).</summary>
        public Uri ApiEndpoint { get; }

        /// <summary>Where tokens come from. Internal: no public API hands out a live access token.</summary>
        internal IAccessTokenSource TokenSource { get; }

        /// <summary>The identity's description (service account email, user); never a secret.</summary>
        public string? Account => TokenSource.Account;

        /// <summary>The user to impersonate when an item names none (domain-wide delegation).</summary>
        public string? DefaultSubject { get; }

        /// <summary>Who acts for an item: the subject it names, else <see cref="DefaultSubject"/> (null = the identity itself).</summary>
        public string? SubjectFor(string? itemSubject) => itemSubject ?? DefaultSubject;

        /// <summary>Scopes that override the per-method narrowest scope; null = narrowest per method.</summary>
        public IReadOnlyList<string>? Scopes { get; }

        /// <summary>Whether the API endpoint can be reached, judged over every command on this connection.</summary>
        public EndpointHealth ApiHealth { get; }

        /// <summary>Whether the token endpoint can be reached, judged over every command on this connection.</summary>
        public EndpointHealth TokenHealth { get; }

        /// <summary>Each request's own time limit (one attempt).</summary>
        public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(60);

        /// <summary>
        /// Retry bounds for every call on this connection (Connect-CalendarWatch -MaxRetry / -RetryTimeLimit). The
        /// settings object is immutable; assigning another one applies to the calls that start afterwards.
        /// </summary>
        public RetrySettings Retry
        {
            get => _policy.Settings;
            set => _policy = new RetryPolicy(value ?? throw new ArgumentNullException(nameof(value)));
        }

        private volatile RetryPolicy _policy = new RetryPolicy(new RetrySettings());

        /// <summary>The retry policy for the current settings (one per settings object, shared by every call).</summary>
        internal RetryPolicy Policy => _policy;

        // One pacer per identity (per-user quotas are charged to the impersonated user), kept for the connection's
        // lifetime: the rate one command learned an identity is admitted at serves the next, in any runspace.
        private readonly ConcurrentDictionary<string, RateLimitPacer> _pacers = new ConcurrentDictionary<string, RateLimitPacer>(StringComparer.OrdinalIgnoreCase);

        /// <summary>The pacer of the identity acting as <paramref name="subject"/> (null = the connection's own).</summary>
        internal RateLimitPacer PacerFor(string? subject) => _pacers.GetOrAdd(subject ?? string.Empty, _ => new RateLimitPacer());

        /// <summary>
        /// The project's pacer: Google's per-project limit is shared by every identity the connection acts as, so its
        /// refusals (403 rateLimitExceeded) are learned here, once, and not by each user's pacer. Every attempt passes
        /// its user's pacer first, then this one (which lets everything through until the project is first refused).
        /// </summary>
        public RateLimitPacer ProjectPacer { get; } = new RateLimitPacer();

        /// <summary>The pacer of one identity once a call has used it (null = the connection's default subject); for the benchmark and tests.</summary>
        public RateLimitPacer? ExistingPacerFor(string? subject) => _pacers.TryGetValue(subject ?? DefaultSubject ?? string.Empty, out var pacer) ? pacer : null;

        /// <summary>Plain-http webhook addresses are accepted only by the emulator or an endpoint on loopback.</summary>
        public bool AllowsHttpAddresses => Kind == ConnectionKind.Emulator || ApiEndpoint.IsLoopback;

        internal HttpClient Http => _http;

        /// <summary>The scopes a call asks for: the connection's override, else the method's narrowest.</summary>
        public IReadOnlyList<string> ScopesFor(IReadOnlyList<string> methodDefault) => Scopes ?? methodDefault;

        /// <summary>A connection to a local emulator started without auth.</summary>
        public static CalendarConnection ForEmulator(Uri endpoint, ProxySettings? proxy = null) => new CalendarConnection(ConnectionKind.Emulator, endpoint, new NoTokenSource(), proxy: proxy);

        /// <summary>A connection that sends a token the caller already has.</summary>
        public static CalendarConnection ForAccessToken(string accessToken, Uri? apiEndpoint = null)
        {
            if (string.IsNullOrEmpty(accessToken)) throw new ArgumentException("The access token is empty.", nameof(accessToken));
            return new CalendarConnection(ConnectionKind.AccessToken, apiEndpoint ?? GoogleApiEndpoint, new StaticTokenSource(accessToken));
        }

        /// <summary>
        /// The emulator named by <c>CALENDARWATCH_EMULATOR_HOST</c> (<c>host:port</c> or a full http URL), or null
        /// when the variable is unset. A malformed value is an error, not a silent fallback to Google.
        /// </summary>
        public static CalendarConnection? FromEnvironment()
        {
            var value = Environment.GetEnvironmentVariable(EmulatorHostVariable);
            if (string.IsNullOrWhiteSpace(value)) return null;
            return ForEmulator(ParseEmulatorHost(value!));
        }

        /// <summary>Parses <c>host:port</c> (or an absolute http/https URL) into the emulator's root URI.</summary>
        public static Uri ParseEmulatorHost(string value)
        {
            var text = value.Trim();
            if (!text.Contains("://")) text = "http://" + text;
            if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps) || uri.IsDefaultPort && !value.Contains("://") || !string.IsNullOrEmpty(uri.UserInfo))
            {
                throw new ArgumentException($"{EmulatorHostVariable} is '{(value.IndexOf('@') >= 0 ? "(a value with a user name or password, not shown)" : value)}', which is not host:port (for example 127.0.0.1:8085). Fix the variable or remove it.");
            }

            return new Uri(uri.GetLeftPart(UriPartial.Authority) + "/");
        }

        public override string ToString() => $"{Kind} {Account ?? "(no account)"} at {ApiEndpoint}";

        /// <summary>True when the connection fetches its tokens (a key file, ADC, user credentials); false for a token given as is and for the emulator without auth.</summary>
        public bool FetchesTokens => Kind != ConnectionKind.Emulator && Kind != ConnectionKind.AccessToken;

        /// <summary>The scopes <see cref="PrefetchTokenAsync"/> asks for: the connection's own, else the narrowest for events.watch (which channels.stop asks for too).</summary>
        public IReadOnlyList<string> PrefetchScopes => ScopesFor(ApiMethod.EventsWatch.Narrowest);

        /// <summary>
        /// Starts fetching, in the background, the token most commands ask for first: the default subject's, for
        /// <see cref="PrefetchScopes"/>. Connect-CalendarWatch calls it so that the first command does not wait for the
        /// token's round trip (and the code that signs and sends it). The returned task never fails and nothing waits
        /// for it: a command that needs that token while it is being fetched shares the fetch (and reports its failure,
        /// if it fails), and a failed fetch is forgotten, so the next command to need the token asks again and reports
        /// what went wrong, as it would have without the prefetch.
        /// </summary>
        public Task PrefetchTokenAsync()
        {
            if (!FetchesTokens) return Task.CompletedTask;
            var subject = DefaultSubject;
            var scopes = PrefetchScopes;
            // Detached from the command that connected (its -Debug sink, its runspace), which the fetch outlives.
            return Background.Run(() => TokenSource.GetAccessTokenAsync(subject, scopes, refusedToken: null, CancellationToken.None));
        }

        public void Dispose() => _http.Dispose();

        private static HttpMessageHandler CreateHandler(ProxySettings proxy)
        {
#if NET
            var handler = new SocketsHttpHandler
            {
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                MaxConnectionsPerServer = 256,
                AutomaticDecompression = System.Net.DecompressionMethods.GZip | System.Net.DecompressionMethods.Deflate,
            };
#else
            var handler = new HttpClientHandler
            {
                MaxConnectionsPerServer = 256,
                AutomaticDecompression = System.Net.DecompressionMethods.GZip | System.Net.DecompressionMethods.Deflate,
            };
#endif
            proxy.Apply(handler);
            return handler;
        }
    }
}
