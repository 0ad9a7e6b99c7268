using System;
using System.Globalization;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Threading;

namespace CalendarWatch.Engine
{
    /// <summary>
    /// Whether one endpoint of a connection (the API root, the token endpoint) can be reached, judged from the attempts
    /// of every item on that connection. After <see cref="Threshold"/> attempts in a row failed to connect (connection
    /// refused, DNS failure, TLS failure, proxy refusal) with no answer in between, every further attempt fails at once
    /// with <c>CalendarWatch.EndpointUnreachable</c>, without sending, until <see cref="BreakDuration"/> has passed
    /// since the last such failure; then attempts may go again, and the first that fails to connect closes it again.
    /// Any answer from the endpoint (even an error) resets the count. Answers that arrive late (timeouts) and
    /// connections broken after they were made say nothing about reachability and are not counted.
    /// </summary>
    /// <remarks>
    /// Not Polly's circuit breaker: that one breaks on a failure ratio within a sampling window, so an answer seconds
    /// earlier masks an endpoint that just went away, and a sequential run whose retries are spaced by backoff never
    /// reaches its minimum throughput within a short window. The rule here is "so many failures to connect in a row".
    /// </remarks>
    public sealed class EndpointHealth
    {
        /// <summary>Failures to connect in a row that mark an endpoint unreachable.</summary>
        public const int DefaultThreshold = 4;

        /// <summary>How long an unreachable endpoint fails attempts at once before one may try it again.</summary>
        public static readonly TimeSpan DefaultBreakDuration = TimeSpan.FromSeconds(30);

        private readonly TimeProvider _time;
        private readonly object _lock = new object();
        private readonly string _hint;
        private int _threshold = DefaultThreshold;
        private TimeSpan _breakDuration = DefaultBreakDuration;
        private int _failures;          // failures to connect in a row
        private long _downUntil;        // TimeProvider timestamp; 0 = up
        private Exception? _lastFailure;

        /// <param name="endpoint">What is reached, as a person reads it, e.g. <c>the Calendar API endpoint https://www.googleapis.com/</c>.</param>
        /// <param name="hint">Where the address comes from, so the message can say what to check.</param>
        /// <param name="timeProvider">The clock for <see cref="BreakDuration"/>; the system clock by default.</param>
        public EndpointHealth(string endpoint, string? hint = null, TimeProvider? timeProvider = null)
        {
            Endpoint = string.IsNullOrEmpty(endpoint) ? throw new ArgumentException("The endpoint is not named.", nameof(endpoint)) : endpoint;
            _hint = hint ?? string.Empty;
            _time = timeProvider ?? TimeProvider.System;
        }

        /// <summary>The endpoint, as error messages name it.</summary>
        public string Endpoint { get; }

        /// <summary>Failures to connect in a row (across items) that mark the endpoint unreachable; 1 to 100.</summary>
        public int Threshold
        {
            get => _threshold;
            set
            {
                if (value < 1 || value > 100) throw new ArgumentOutOfRangeException(nameof(value), value, "Threshold must be between 1 and 100.");
                _threshold = value;
            }
        }

        /// <summary>How long attempts fail at once after the last failure to connect, before one may try again.</summary>
        public TimeSpan BreakDuration
        {
            get => _breakDuration;
            set
            {
                if (value < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(value), value, "BreakDuration must not be negative.");
                _breakDuration = value;
            }
        }

        /// <summary>Failures to connect since the endpoint last answered.</summary>
        public int FailuresInARow
        {
            get
            {
                lock (_lock) return _failures;
            }
        }

        /// <summary>True while attempts fail at once.</summary>
        public bool IsDown
        {
            get
            {
                lock (_lock) return _downUntil != 0 && _time.GetTimestamp() < _downUntil;
            }
        }

        /// <summary>
        /// Throws <c>CalendarWatch.EndpointUnreachable</c> (nothing was sent; the last failure to connect as its inner
        /// exception) while the endpoint is down.
        /// </summary>
        public void ThrowIfDown()
        {
            if (Interlocked.Read(ref _downUntil) == 0) return;
            int failures;
            Exception? lastFailure;
            TimeSpan wait;
            lock (_lock)
            {
                if (_downUntil == 0) return;
                var now = _time.GetTimestamp();
                if (now >= _downUntil) return;
                failures = _failures;
                lastFailure = _lastFailure;
                wait = _time.GetElapsedTime(now, _downUntil);
            }

            var hint = _hint.Length > 0 ? " " + _hint : string.Empty;
            throw new CalendarWatchException("CalendarWatch.EndpointUnreachable", FailureKind.ConnectionError,
                string.Format(CultureInfo.InvariantCulture,
                    "{0} could not be reached: the last {1} attempts in a row failed to connect ({2}), so this item was not sent. " +
                    "Check that the address is right{3}, that the host is up and listening, and that no proxy or firewall blocks the connection. " +
                    "Attempts on this connection fail at once for another {4:0} s.",
                    Capitalize(Endpoint), failures, lastFailure is null ? "no answer" : ExceptionText.InnermostMessage(lastFailure), hint, Math.Ceiling(wait.TotalSeconds)),
                lastFailure);
        }

        /// <summary>The endpoint answered (anything, even an error): it is reachable.</summary>
        public void Reached()
        {
            if (Volatile.Read(ref _failures) == 0) return;
            lock (_lock)
            {
                _failures = 0;
                Interlocked.Exchange(ref _downUntil, 0);
                _lastFailure = null;
            }
        }

        /// <summary>
        /// An attempt failed with <paramref name="exception"/>. Returns true when that was a failure to connect, which
        /// counts towards <see cref="Threshold"/>; anything else leaves the count as it is.
        /// </summary>
        public bool Failed(Exception exception)
        {
            if (!IsUnreachable(exception)) return false;
            lock (_lock)
            {
                _failures++;
                _lastFailure = exception;
                if (_failures >= _threshold)
                {
                    Interlocked.Exchange(ref _downUntil, _time.GetTimestamp() + (long)(_breakDuration.TotalSeconds * _time.TimestampFrequency));
                }
            }

            return true;
        }

        public override string ToString() => $"{Endpoint}: {(IsDown ? "unreachable" : "reachable")}, {FailuresInARow} failures to connect in a row";

        /// <summary>
        /// True when <paramref name="exception"/> (or one it wraps) says no connection could be made: refused, host
        /// or network unreachable, DNS failure, TLS handshake failure, proxy refusal. A connection reset or closed after
        /// it was made, and timeouts of a request under way, are not.
        /// </summary>
        public static bool IsUnreachable(Exception? exception)
        {
            for (var e = exception; e != null; e = e.InnerException)
            {
                switch (e)
                {
                    case SocketException socket when IsUnreachable(socket.SocketErrorCode):
                    case AuthenticationException _:
                        return true;
#if NET
                    case HttpRequestException http when http.HttpRequestError == HttpRequestError.NameResolutionError ||
                                                        http.HttpRequestError == HttpRequestError.ConnectionError ||
                                                        http.HttpRequestError == HttpRequestError.SecureConnectionError ||
                                                        http.HttpRequestError == HttpRequestError.ProxyTunnelError:
                        return true;
#endif
                    case WebException web when web.Status == WebExceptionStatus.ConnectFailure ||
                                               web.Status == WebExceptionStatus.NameResolutionFailure ||
                                               web.Status == WebExceptionStatus.ProxyNameResolutionFailure ||
                                               web.Status == WebExceptionStatus.SecureChannelFailure ||
                                               web.Status == WebExceptionStatus.TrustFailure:
                        return true;
                    case AggregateException aggregate when aggregate.InnerExceptions.Count == 1:
                        return IsUnreachable(aggregate.InnerExceptions[0]);
                }
            }

            return false;
        }

        private static bool IsUnreachable(SocketError error)
        {
            switch (error)
            {
                case SocketError.ConnectionRefused:
                case SocketError.HostNotFound:
                case SocketError.TryAgain:
                case SocketError.NoData:
                case SocketError.HostUnreachable:
                case SocketError.HostDown:
                case SocketError.NetworkUnreachable:
                case SocketError.NetworkDown:
                case SocketError.AddressNotAvailable:
                    return true;
                default:
                    return false;
            }
        }

        private static string Capitalize(string text) => text.Length > 0 && char.IsLower(text[0]) ? char.ToUpperInvariant(text[0]) + text.Substring(1) : text;
    }
}
