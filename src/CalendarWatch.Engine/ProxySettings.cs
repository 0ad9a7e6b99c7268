using System;
using System.Net;
using System.Net.Http;

namespace CalendarWatch.Engine
{
    /// <summary>
    /// How a connection reaches its endpoints, for API and token requests alike: the system proxy (the default: the
    /// operating system's settings on Windows and macOS, HTTP_PROXY/HTTPS_PROXY/NO_PROXY elsewhere, with the signed-in
    /// user's credentials for a proxy that asks), or one proxy given by address with an optional credential
    /// (Connect-CalendarWatch -Proxy, -ProxyCredential). The credential is never shown: <see cref="ToString"/> names
    /// the proxy only.
    /// </summary>
    public sealed class ProxySettings
    {
        /// <summary>The system proxy.</summary>
        public static readonly ProxySettings System = new ProxySettings();

        private readonly NetworkCredential? _credential;

        private ProxySettings()
        {
        }

        private ProxySettings(Uri? address, NetworkCredential? credential)
        {
            Address = address;
            _credential = credential;
        }

        /// <summary>The system proxy, answering its 407 challenges with <paramref name="credential"/> instead of the signed-in user's.</summary>
        public static ProxySettings SystemWith(NetworkCredential? credential) => credential is null ? System : new ProxySettings(null, credential);

        /// <summary>The proxy every request goes through; null = the system proxy.</summary>
        public Uri? Address { get; }

        /// <summary>Whether a credential answers the proxy's 407 challenges.</summary>
        public bool HasCredential => _credential != null;

        /// <summary>
        /// One proxy: an absolute http URL (<c>http://proxy.example.com:8080</c>) or <c>host:port</c>, without a user
        /// name or password in it (give those as <paramref name="credential"/>). Anything else is
        /// <c>CalendarWatch.InvalidProxy</c>, which names the value (never a password in it) and the form to use.
        /// </summary>
        public static ProxySettings For(Uri address, NetworkCredential? credential)
        {
            if (address is null) throw new ArgumentNullException(nameof(address));
            var uri = address;
            if (!uri.IsAbsoluteUri || uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps && uri.OriginalString.IndexOf("://", StringComparison.Ordinal) < 0)
            {
                // host:port binds as a relative Uri (or as scheme "host" with a path "port"): read it as an http proxy.
                Uri.TryCreate("http://" + address.OriginalString.Trim(), UriKind.Absolute, out uri);
            }

            if (uri is null || uri.Scheme != Uri.UriSchemeHttp || string.IsNullOrEmpty(uri.Host) || uri.AbsolutePath != "/" || !string.IsNullOrEmpty(uri.Query))
            {
                throw new CalendarWatchException("CalendarWatch.InvalidProxy", FailureKind.InvalidArgument,
                    $"-Proxy '{Describe(address)}' is not an http proxy address. Give it as http://proxy.example.com:8080 or proxy.example.com:8080 (CalendarWatch talks to a proxy over plain http and tunnels https through it).");
            }

            if (!string.IsNullOrEmpty(uri.UserInfo))
            {
                throw new CalendarWatchException("CalendarWatch.InvalidProxy", FailureKind.InvalidArgument,
                    $"-Proxy '{RequestValidation.Redact(uri)}' carries a user name or password, which would show in the connection and in errors. Give the address without it and the account as -ProxyCredential (Get-Credential).");
            }

            return new ProxySettings(new Uri(uri.GetLeftPart(UriPartial.Authority) + "/"), credential);
        }

        /// <summary>The proxy for an HttpClient handler: the given one with its credential, or null for the system proxy.</summary>
        internal IWebProxy? CreateProxy() => Address is null ? null : new WebProxy(Address) { Credentials = _credential };

        /// <summary>Points <paramref name="handler"/> at this proxy (any handler of .NET Framework or .NET 8).</summary>
        internal void Apply(HttpClientHandler handler)
        {
            handler.UseProxy = true;
            if (Address is null)
            {
                // The system proxy, answering its challenges with the credential given, else as the signed-in user
                // (Kerberos/NTLM proxies on Windows).
                handler.DefaultProxyCredentials = (ICredentials?)_credential ?? CredentialCache.DefaultCredentials;
            }
            else
            {
                handler.Proxy = CreateProxy();
            }
        }

#if NET
        /// <summary>The same for SocketsHttpHandler (.NET 8).</summary>
        internal void Apply(SocketsHttpHandler handler)
        {
            handler.UseProxy = true;
            if (Address is null)
            {
                handler.DefaultProxyCredentials = (ICredentials?)_credential ?? CredentialCache.DefaultCredentials;
            }
            else
            {
                handler.Proxy = CreateProxy();
            }
        }
#endif

        /// <summary>What CalendarWatch.ProxyAuthenticationRequired says: the proxy, the target, and the fix.</summary>
        internal static string RefusalMessage(ProxySettings proxy, string target) =>
            $"The proxy ({proxy}) refused the request to {target} with 407 Proxy Authentication Required. " +
            (proxy.HasCredential ? "Check the user name and password given as -ProxyCredential." : "Connect again with -ProxyCredential (Get-Credential) for the proxy.");

        public override string ToString() => (Address is null ? "the system proxy" : Address.GetLeftPart(UriPartial.Authority)) + (HasCredential ? " (with a credential)" : string.Empty);

        private static string Describe(Uri value) => value.OriginalString.IndexOf('@') >= 0 ? "(a value with a user name or password, not shown)" : value.OriginalString;
    }

    /// <summary>Google.Apis.Auth's HTTP client factory for token requests, through the connection's proxy.</summary>
    internal sealed class ProxyHttpClientFactory : Google.Apis.Http.HttpClientFactory
    {
        private readonly ProxySettings _proxy;

        public ProxyHttpClientFactory(ProxySettings proxy)
        {
            _proxy = proxy ?? throw new ArgumentNullException(nameof(proxy));
        }

        protected override HttpClientHandler CreateClientHandler()
        {
            var handler = base.CreateClientHandler();
            _proxy.Apply(handler);
            return handler;
        }

        // Google.Apis.Auth reads a 407's empty body as a token answer and fails with a NullReferenceException; a
        // proxy's refusal is told apart here, before the library sees it.
        // Token requests are also reported to -Debug (TokenTraceHandler).
        protected override HttpMessageHandler CreateHandler(Google.Apis.Http.CreateHttpClientArgs args) =>
            new TokenTraceHandler { InnerHandler = new ProxyRefusalHandler(_proxy) { InnerHandler = base.CreateHandler(args) } };

        private sealed class ProxyRefusalHandler : DelegatingHandler
        {
            private readonly ProxySettings _proxy;

            public ProxyRefusalHandler(ProxySettings proxy)
            {
                _proxy = proxy;
            }

            protected override async System.Threading.Tasks.Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, System.Threading.CancellationToken cancellationToken)
            {
                var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
                if ((int)response.StatusCode == 407)
                {
                    response.Dispose();
                    throw new ProxyAuthenticationRequiredException(_proxy, request.RequestUri);
                }

                return response;
            }
        }
    }

    /// <summary>The proxy answered 407 to a token request: what <see cref="Auth.AuthErrors"/> turns into CalendarWatch.ProxyAuthenticationRequired.</summary>
    internal sealed class ProxyAuthenticationRequiredException : HttpRequestException
    {
        public ProxyAuthenticationRequiredException(ProxySettings proxy, Uri? target)
            : base(ProxySettings.RefusalMessage(proxy, target?.GetLeftPart(UriPartial.Path) ?? "the token endpoint"))
        {
        }
    }
}
