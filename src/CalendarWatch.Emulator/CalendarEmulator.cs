using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using System.Threading;
using System.Threading.Tasks;

namespace CalendarWatch.Emulator
{
    /// <summary>
    /// A local Google Calendar push-notification emulator on http://127.0.0.1:PORT/ (System.Net.HttpListener).
    /// API under BaseUri + "calendar/v3/", OAuth token endpoint at BaseUri + "token", admin surface under BaseUri + "emulator/v1/".
    /// </summary>
    public sealed class CalendarEmulator : IAsyncDisposable
    {
        private readonly HttpListener _listener;
        private readonly EmulatorOptions _options;
        private readonly EmulatorState _state;
        private readonly NotificationDispatcher _dispatcher;
        private readonly CalendarApi _api;
        private readonly AdminApi _admin;
        private readonly TokenEndpoint _token;
        private readonly ConnectionGuard _guard;
        private readonly CancellationTokenSource _stopping = new CancellationTokenSource();
        private readonly Task _loop;
        private int _disposed;

        private CalendarEmulator(HttpListener listener, Uri baseUri, EmulatorOptions options)
        {
            _listener = listener;
            _options = options;
            BaseUri = baseUri;
            TokenUri = new Uri(BaseUri, "token");
            _state = new EmulatorState(options);
            _dispatcher = new NotificationDispatcher(_state, options);
            _api = new CalendarApi(_state, options, _dispatcher);
            _admin = new AdminApi(this);
            _token = new TokenEndpoint(_state, () => TokenUri);
            _guard = new ConnectionGuard(listener, baseUri.Port, options);
            _loop = Task.Run(AcceptLoopAsync);
        }

        /// <summary>Binds 127.0.0.1 (a free port when <see cref="EmulatorOptions.Port"/> is 0) and starts serving.</summary>
        public static Task<CalendarEmulator> StartAsync(EmulatorOptions? options = null, CancellationToken ct = default)
        {
            ct.ThrowIfCancellationRequested();
            var copy = (options ?? new EmulatorOptions()).Clone();
            if (copy.Port < 0 || copy.Port > 65535) throw new ArgumentOutOfRangeException(nameof(options), "Port must be 0..65535.");
            if (copy.MaxChannelLifetime <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(options), "MaxChannelLifetime must be positive.");
            if (copy.Latency < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(options), "Latency must not be negative.");
            if (copy.DeliveryRetryBaseDelay < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(options), "DeliveryRetryBaseDelay must not be negative.");
            copy.Faults.Validate();

            var listener = Listen(copy.Port, FindFreePort, out var baseUri);
            return Task.FromResult(new CalendarEmulator(listener, baseUri, copy));
        }

        /// <summary>How many ports a start on port 0 tries before it gives up.</summary>
        private const int MaxListenAttempts = 20;

        /// <summary>
        /// Starts an HttpListener on 127.0.0.1:<paramref name="port"/>, or, when it is 0, on a port from
        /// <paramref name="freePort"/>, trying further ports while one is lost between the probe and the bind.
        /// </summary>
        internal static HttpListener Listen(int port, Func<int> freePort, out Uri baseUri)
        {
            for (int attempt = 1; ; attempt++)
            {
                int candidate = port != 0 ? port : freePort();
                var listener = new HttpListener();
                baseUri = new Uri("http://127.0.0.1:" + candidate + "/");
                listener.Prefixes.Add(baseUri.AbsoluteUri);
                AnswerLocalhostToo(listener, candidate);
                try
                {
                    try
                    {
                        listener.Start();
                    }
                    catch (HttpListenerException e) when (e.ErrorCode == AccessDenied)
                    {
                        // Windows (HTTP.sys) lets a user who is not an administrator listen on "localhost" prefixes
                        // only; an IP-address prefix needs a URL ACL (netsh http add urlacl). Serve on localhost then.
                        listener.Close();
                        listener = new HttpListener();
                        baseUri = new Uri("http://localhost:" + candidate + "/");
                        listener.Prefixes.Add(baseUri.AbsoluteUri);
                        listener.Start();
                    }

                    return listener;
                }
                catch (HttpListenerException) when (port == 0 && attempt < MaxListenAttempts)
                {
                    listener.Close(); // someone took the port between the probe and the bind: try another
                }
                catch (ArgumentNullException e)
                {
                    // The managed HttpListener (Linux, macOS) starts accepting before its endpoint listener is fully built
                    // (dotnet/runtime HttpEndPointListener), so a connection that arrives while Start binds (from a client
                    // that was already trying this port) makes Start throw from HttpEndPointListener.ProcessAccept. The
                    // half-built listener keeps the port, out of reach: the port is lost, so take another one.
                    listener.Close();
                    if (port == 0 && attempt < MaxListenAttempts) continue;
                    throw new HttpListenerException((int)SocketError.AddressAlreadyInUse,
                        "A connection arrived while the listener started on port " + candidate.ToString(System.Globalization.CultureInfo.InvariantCulture) +
                        " and .NET's HttpListener lost the port (" + e.Message + "). Start again, on another port or with port 0.");
                }
            }
        }

        /// <summary>
        /// HttpListener serves only the host names of its prefixes: a client that says localhost:PORT (Host: localhost)
        /// would get 404 "Not Found" (HTTP.sys: 400 "Invalid Hostname"). Serve that name too wherever it is this same
        /// address: with HTTP.sys (Windows), which routes by host name, and with the managed listener when localhost
        /// resolves to 127.0.0.1 first (the listener binds a prefix host's first address; ::1 would be another socket).
        /// </summary>
        private static void AnswerLocalhostToo(HttpListener listener, int port)
        {
            if (!System.Runtime.InteropServices.RuntimeInformation.IsOSPlatform(System.Runtime.InteropServices.OSPlatform.Windows))
            {
                IPAddress[] addresses;
                try { addresses = Dns.GetHostAddresses("localhost"); }
                catch (SocketException) { return; }
                if (addresses.Length == 0 || !addresses[0].Equals(IPAddress.Loopback)) return;
            }

            listener.Prefixes.Add("http://localhost:" + port + "/");
        }

        /// <summary>ERROR_ACCESS_DENIED, what HTTP.sys answers for a prefix the user has no URL ACL for.</summary>
        private const int AccessDenied = 5;

        private static int FindFreePort()
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            try { return ((IPEndPoint)probe.LocalEndpoint).Port; }
            finally { probe.Stop(); }
        }

        /// <summary>e.g. http://127.0.0.1:54321/ (http://localhost:54321/ on Windows without a URL ACL for 127.0.0.1).</summary>
        public Uri BaseUri { get; }

        /// <summary>BaseUri + "token".</summary>
        public Uri TokenUri { get; }

        /// <summary>Creates (or updates) a calendar; the owner's primary calendar (id = owner) comes with it.</summary>
        public void CreateCalendar(string id, string owner, bool watchable = true) => _state.CreateCalendar(id, owner, watchable);

        /// <summary>
        /// Registers a service-account key (PEM "PUBLIC KEY" or "RSA PUBLIC KEY"), the users it may impersonate and the scopes
        /// it was granted (null = every calendar scope). The client id defaults to the client email.
        /// The account's and every subject's primary calendars are created.
        /// </summary>
        public void RegisterServiceAccount(string clientEmail, string publicKeyPem, IEnumerable<string> subjects,
            IEnumerable<string>? grantedScopes = null, string? clientId = null)
        {
            if (string.IsNullOrEmpty(clientEmail)) throw new ArgumentException("A client email is required.", nameof(clientEmail));
            System.Security.Cryptography.RSAParameters key;
            try { key = PemPublicKey.Parse(publicKeyPem); }
            catch (FormatException e) { throw new ArgumentException("Invalid public key: " + e.Message, nameof(publicKeyPem), e); }
            var subjectSet = new HashSet<string>(subjects ?? Enumerable.Empty<string>(), StringComparer.OrdinalIgnoreCase);
            var scopes = new HashSet<string>(grantedScopes ?? EmulatorState.AllCalendarScopes, StringComparer.Ordinal);
            lock (_state.Gate)
            {
                _state.ServiceAccounts[clientEmail] = new ServiceAccountRecord(clientEmail, key, subjectSet, scopes,
                    string.IsNullOrEmpty(clientId) ? clientEmail : clientId!);
                _state.EnsureCalendar(clientEmail, clientEmail, true);
                foreach (var s in subjectSet) _state.EnsureCalendar(s, s, true);
            }
        }

        /// <summary>Registers a user credential for the refresh_token grant; the user's primary calendar is created.</summary>
        public void RegisterUser(string email, string clientId, string clientSecret, string refreshToken)
        {
            if (string.IsNullOrEmpty(email)) throw new ArgumentException("An email is required.", nameof(email));
            if (string.IsNullOrEmpty(refreshToken)) throw new ArgumentException("A refresh token is required.", nameof(refreshToken));
            lock (_state.Gate)
            {
                _state.UsersByRefreshToken[refreshToken] = new UserRecord(email, clientId ?? "", clientSecret ?? "", refreshToken);
                _state.EnsureCalendar(email, email, true);
            }
        }

        /// <summary>
        /// Issues an access token without the token endpoint (for tests). A registered service account's email gives a
        /// service-account caller of that account's client; anything else is a user (of its registered client, if any).
        /// Lifetime defaults to 3599 s on the emulator clock.
        /// </summary>
        public string IssueAccessToken(string principal, IEnumerable<string> scopes, TimeSpan? lifetime = null)
        {
            if (string.IsNullOrEmpty(principal)) throw new ArgumentException("A principal is required.", nameof(principal));
            return _state.IssueAccessToken(_state.CallerFor(principal, scopes ?? Enumerable.Empty<string>()), lifetime ?? TimeSpan.FromSeconds(3599));
        }

        /// <summary>
        /// Inserts an event into a calendar the emulator holds, as its owner, and notifies the calendar's events channels
        /// ("exists"), as events.insert does. Returns the event id (<paramref name="eventId"/>, or a new one when null).
        /// <see cref="ArgumentException"/> for a calendar the emulator does not hold; <see cref="InvalidOperationException"/>
        /// naming Google's status and reason for what events.insert would refuse (an existing id: 409 duplicate; an
        /// eventType outside the discovery enum: 400 invalid).
        /// </summary>
        public string InsertEvent(string calendarId, string? summary = null, string? eventType = null, string? eventId = null)
        {
            var body = new JsonObject();
            if (eventId != null) body["id"] = eventId;
            if (summary != null) body["summary"] = summary;
            if (eventType != null) body["eventType"] = eventType;
            var result = Change("calendar.events.insert", calendarId, null, body);
            return (string)result!["id"]!;
        }

        /// <summary>
        /// Patches an event (its summary and/or eventType) as the calendar's owner and notifies the channels that watch its
        /// old or new type. An unknown or deleted event: <see cref="InvalidOperationException"/> (404 notFound).
        /// </summary>
        public void PatchEvent(string calendarId, string eventId, string? summary = null, string? eventType = null)
        {
            if (string.IsNullOrEmpty(eventId)) throw new ArgumentException("An event id is required.", nameof(eventId));
            var body = new JsonObject();
            if (summary != null) body["summary"] = summary;
            if (eventType != null) body["eventType"] = eventType;
            Change("calendar.events.patch", calendarId, eventId, body);
        }

        /// <summary>Deletes an event as the calendar's owner and notifies; deleting it twice: <see cref="InvalidOperationException"/> (410 deleted).</summary>
        public void DeleteEvent(string calendarId, string eventId)
        {
            if (string.IsNullOrEmpty(eventId)) throw new ArgumentException("An event id is required.", nameof(eventId));
            Change("calendar.events.delete", calendarId, eventId, null);
        }

        /// <summary>
        /// Adds (or, for an existing rule, changes the role of) an ACL rule as the calendar's owner and notifies its acl
        /// channels. <paramref name="role"/>: none, freeBusyReader, reader, writer, owner; <paramref name="scopeType"/>:
        /// default, user, group, domain (every type but default needs <paramref name="scopeValue"/>). Returns the rule id
        /// ("user:alice@example.com", or "default").
        /// </summary>
        public string InsertAclRule(string calendarId, string role, string scopeType, string? scopeValue = null)
        {
            var scope = new JsonObject { ["type"] = scopeType };
            if (scopeValue != null) scope["value"] = scopeValue;
            var result = Change("calendar.acl.insert", calendarId, null, new JsonObject { ["role"] = role, ["scope"] = scope });
            return (string)result!["id"]!;
        }

        /// <summary>Removes an ACL rule ("user:alice@example.com") as the calendar's owner and notifies its acl channels.</summary>
        public void DeleteAclRule(string calendarId, string ruleId)
        {
            if (string.IsNullOrEmpty(ruleId)) throw new ArgumentException("A rule id is required.", nameof(ruleId));
            Change("calendar.acl.delete", calendarId, ruleId, null);
        }

        private JsonObject? Change(string method, string calendarId, string? itemId, JsonObject? body)
        {
            if (string.IsNullOrEmpty(calendarId)) throw new ArgumentException("A calendar id is required.", nameof(calendarId));
            try
            {
                return _api.ChangeAsOwner(method, calendarId, itemId, body);
            }
            catch (GoogleApiException e)
            {
                var what = method.Substring("calendar.".Length) + " on calendar '" + HttpUtil.Clip(calendarId) + "'"
                    + (itemId == null ? "" : ", item '" + HttpUtil.Clip(itemId) + "'");
                throw new InvalidOperationException(what + " was refused as the API would refuse it: " + e.Code + " " + e.Reason + ": " + e.Message, e);
            }
        }

        /// <summary>Every channel ever created since start or reset, in creation order (snapshot).</summary>
        public IReadOnlyList<EmulatedChannel> Channels => _state.SnapshotChannels();

        /// <summary>Every notification since start or reset (snapshot).</summary>
        public IReadOnlyList<EmulatedDelivery> Deliveries => _state.SnapshotDeliveries();

        /// <summary>Counters (snapshot).</summary>
        public EmulatorStats Stats => _state.SnapshotStats();

        /// <summary>The fault knobs in force (a copy).</summary>
        public EmulatorFaults Faults { get { lock (_state.Gate) return _state.Faults.Clone(); } }

        /// <summary>Replaces every fault and rate knob at once.</summary>
        public void SetFaults(EmulatorFaults faults) => _state.SetFaults(faults);

        /// <summary>The emulator clock: real time plus a settable offset (so it keeps moving).</summary>
        public DateTimeOffset Now => _state.Now;

        /// <summary>The earliest time the emulator clock may be set to: the Unix epoch (channel expirations are Unix milliseconds).</summary>
        public static readonly DateTimeOffset MinClock = new DateTimeOffset(1970, 1, 1, 0, 0, 0, TimeSpan.Zero);

        /// <summary>The latest time the emulator clock may be set to, leaving room for lifetimes and expirations computed from it.</summary>
        public static readonly DateTimeOffset MaxClock = new DateTimeOffset(9000, 1, 1, 0, 0, 0, TimeSpan.Zero);

        /// <summary>Sets the emulator clock; <see cref="ArgumentOutOfRangeException"/> outside <see cref="MinClock"/>..<see cref="MaxClock"/>.</summary>
        public void SetClock(DateTimeOffset now) => _state.SetClock(now);

        /// <summary>Moves the emulator clock; <see cref="ArgumentOutOfRangeException"/> if it would leave <see cref="MinClock"/>..<see cref="MaxClock"/>.</summary>
        public void AdvanceClock(TimeSpan by) => _state.AdvanceClock(by);

        /// <summary>How many seconds the clock may move now: (back, a negative number; forward).</summary>
        internal (double Back, double Forward) ClockLeeway() => _state.ClockLeeway();

        /// <summary>Forgets everything (calendars, accounts, tokens, channels, deliveries, stats), resets the clock and the faults to the start options.</summary>
        public void Reset()
        {
            _state.Reset();
            _dispatcher.Signal();
        }

        /// <summary>Waits until the condition holds for the deliveries (re-checked on every delivery change) or the timeout passes.</summary>
        public Task<bool> WaitForDeliveriesAsync(Func<IReadOnlyList<EmulatedDelivery>, bool> condition, TimeSpan timeout) =>
            _dispatcher.WaitAsync(condition, timeout);

        private async Task AcceptLoopAsync()
        {
            // The managed HttpListener (Linux, macOS) can lose a GetContext that starts while Stop runs: BeginGetContext
            // checks the listener's state, then queues itself; when Stop empties the queue in between, nothing ever
            // completes it. Waiting on it alone would hang DisposeAsync for ever, so the wait also ends on the stop signal.
            var stopped = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            using (_stopping.Token.Register(static s => ((TaskCompletionSource<bool>)s!).TrySetResult(true), stopped))
            {
                while (!_stopping.IsCancellationRequested)
                {
                    HttpListenerContext context;
                    try
                    {
                        var next = _listener.GetContextAsync();
                        if (await Task.WhenAny(next, stopped.Task).ConfigureAwait(false) != next)
                        {
                            _ = next.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
                            return;
                        }
                        context = await next.ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is HttpListenerException || e is ObjectDisposedException || e is InvalidOperationException)
                    {
                        if (_stopping.IsCancellationRequested || !_listener.IsListening) return;
                        continue;
                    }
                    _ = Task.Run(() => HandleAsync(context));
                }
            }
        }

        private async Task HandleAsync(HttpListenerContext context)
        {
            try
            {
                var segments = HttpUtil.SplitPath(context.Request.RawUrl ?? "/", out var query);
                bool token = segments.Length == 1 && segments[0] == "token";
                HttpUtil.Begin(context, token ? _options.MaxTokenRequestBodyBytes : _options.MaxRequestBodyBytes, _options.BodyTimeout);
                if (_guard.ServesEveryHost && !IsServedHost(context.Request))
                    await HttpUtil.WriteJsonAsync(context, 400, GoogleErrors.BadRequest("badRequest",
                        "Invalid Host header '" + HttpUtil.Clip(context.Request.UserHostName) + "': this emulator serves " + BaseUri.Authority + ".").ToEnvelope()).ConfigureAwait(false);
                else if (token)
                    await _token.HandleAsync(context).ConfigureAwait(false);
                else if (segments.Length >= 2 && segments[0] == "calendar" && segments[1] == "v3")
                    await _api.HandleAsync(context, segments.Skip(2).ToArray(), query).ConfigureAwait(false);
                else if (segments.Length >= 2 && segments[0] == "emulator" && segments[1] == "v1")
                    await _admin.HandleAsync(context, segments.Skip(2).ToArray()).ConfigureAwait(false);
                else
                    await HttpUtil.WriteJsonAsync(context, 404, GoogleErrors.NotFound().ToEnvelope()).ConfigureAwait(false);
            }
            catch (ConnectionDroppedException)
            {
                HttpUtil.AbortConnection(context); // the client left mid-request: no one to answer
            }
            catch (Exception e)
            {
                try
                {
                    await HttpUtil.WriteJsonAsync(context, 500,
                        new GoogleApiException(500, GoogleErrors.Internal, "global", "backendError", "Emulator failure: " + HttpUtil.Clip(e.Message)).ToEnvelope()).ConfigureAwait(false);
                }
                catch
                {
                    HttpUtil.AbortConnection(context);
                }
            }
        }

        /// <summary>The Host the listener's own prefix names (the listener no longer checks it when <see cref="ConnectionGuard.ServesEveryHost"/>).</summary>
        private bool IsServedHost(HttpListenerRequest request)
        {
            var url = request.Url;
            if (url is null || url.Port != BaseUri.Port) return false;
            // The host it listens on, and localhost where that is the same address (see AnswerLocalhostToo).
            return string.Equals(url.Host, BaseUri.Host, StringComparison.OrdinalIgnoreCase)
                || (string.Equals(url.Host, "localhost", StringComparison.OrdinalIgnoreCase) && _listener.Prefixes.Contains("http://localhost:" + BaseUri.Port + "/"));
        }

        /// <summary>Stops listening and abandons pending deliveries.</summary>
        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            _stopping.Cancel();
            _guard.Dispose(); // first: the listener frees its endpoint only when the guard's catch-all host is gone
            // Close alone, never Stop then Close: after Stop the managed HttpListener's Close removes its prefixes a second
            // time, and to do so binds the port again for a moment (failing with "Address already in use" when someone
            // took the port in between, and open to the start race of Listen while it listens).
            try { _listener.Close(); } catch (ObjectDisposedException) { }
            try { await _loop.ConfigureAwait(false); } catch { /* the loop ends with the listener */ }
            _dispatcher.Dispose();
            _stopping.Dispose();
        }
    }
}
