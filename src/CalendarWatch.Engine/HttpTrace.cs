using System;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;

namespace CalendarWatch.Engine
{
    /// <summary>
    /// One HTTP exchange, as -Debug shows it: method, URL (user info and query values that could be secrets replaced
    /// by ***), the status or why there was none, how long it took and which attempt of its call it was. Never a
    /// header or a body, so never a token, an assertion or a key.
    /// </summary>
    public sealed class HttpExchange
    {
        internal HttpExchange(string what, string method, string url, int? status, string? failure, TimeSpan elapsed, int? attempt)
        {
            What = what;
            Method = method;
            Url = url;
            Status = status;
            Failure = failure;
            Elapsed = elapsed;
            Attempt = attempt;
        }

        /// <summary>"API" or "token".</summary>
        public string What { get; }

        public string Method { get; }

        /// <summary>The URL as it may be shown (see <see cref="HttpTrace.Redact"/>).</summary>
        public string Url { get; }

        /// <summary>The HTTP status; null when no answer came (then <see cref="Failure"/> says why).</summary>
        public int? Status { get; }

        public string? Failure { get; }

        public TimeSpan Elapsed { get; }

        /// <summary>Which attempt of the call (1 = the first) for API requests; null for token requests.</summary>
        public int? Attempt { get; }

        /// <summary><c>HTTP API POST https://…/events/watch?eventTypes=default -> 200 in 43 ms (attempt 1)</c>.</summary>
        public override string ToString() => string.Format(CultureInfo.InvariantCulture, "HTTP {0} {1} {2} -> {3} in {4:0} ms{5}",
            What, Method, Url, Status?.ToString(CultureInfo.InvariantCulture) ?? "no answer (" + Failure + ")", Elapsed.TotalMilliseconds,
            Attempt is int attempt ? " (attempt " + attempt.ToString(CultureInfo.InvariantCulture) + ")" : string.Empty);
    }

    /// <summary>
    /// Where a command hears about its HTTP exchanges (-Debug): a sink set for the asynchronous flow of one call
    /// (<see cref="RunAsync{T}"/>), so that concurrent commands and runspaces on one connection each hear only their
    /// own. Costs nothing when no sink is set.
    /// </summary>
    public static class HttpTrace
    {
        /// <summary>Query parameters whose values are shown; any other value is replaced by ***.</summary>
        private static readonly string[] ShownParameters = { "eventTypes", "alt" };

        private static readonly AsyncLocal<Action<HttpExchange>?> Sink = new AsyncLocal<Action<HttpExchange>?>();

        internal static bool IsOn => Sink.Value != null;

        /// <summary>Runs <paramref name="work"/> with <paramref name="sink"/> hearing each HTTP exchange it makes (on worker threads).</summary>
        public static async Task<T> RunAsync<T>(Action<HttpExchange> sink, Func<Task<T>> work)
        {
            if (sink is null) throw new ArgumentNullException(nameof(sink));
            if (work is null) throw new ArgumentNullException(nameof(work));
            // Set inside this async method: the change is undone for the caller when it returns.
            Sink.Value = sink;
            return await work().ConfigureAwait(false);
        }

        internal static void Report(string what, HttpMethod method, Uri uri, int? status, Exception? failure, long startTimestamp, int? attempt)
        {
            var sink = Sink.Value;
            if (sink is null) return;
            var elapsed = TimeSpan.FromTicks((long)((Stopwatch.GetTimestamp() - startTimestamp) * (TimeSpan.TicksPerSecond / (double)Stopwatch.Frequency)));
            try
            {
                sink(new HttpExchange(what, method.Method, Redact(uri), status, failure is null ? null : Describe(failure), elapsed, attempt));
            }
            catch (Exception ex) when (!(ex is OutOfMemoryException))
            {
                // A debug line must never fail the request.
            }
        }

        /// <summary>
        /// The URL as -Debug shows it: user info as ***, and the value of every query parameter but eventTypes and alt
        /// as *** (an API key or a signature can travel in a query string).
        /// </summary>
        public static string Redact(Uri uri)
        {
            if (uri is null) return string.Empty;
            if (!uri.IsAbsoluteUri) return "(a relative URL)";
            var text = uri.Scheme + "://" + (string.IsNullOrEmpty(uri.UserInfo) ? string.Empty : "***@") + uri.Authority + uri.AbsolutePath;
            var query = uri.Query;
            if (query.Length > 1)
            {
                var parts = query.Substring(1).Split('&').Select(part =>
                {
                    var equals = part.IndexOf('=');
                    var name = equals < 0 ? part : part.Substring(0, equals);
                    return equals < 0 || ShownParameters.Contains(Uri.UnescapeDataString(name), StringComparer.Ordinal) ? part : name + "=***";
                });
                text += "?" + string.Join("&", parts);
            }

            return text;
        }

        private static string Describe(Exception failure)
        {
            var inner = failure;
            while (inner.InnerException != null && (inner is HttpRequestException || inner is TaskCanceledException || inner is OperationCanceledException))
            {
                inner = inner.InnerException;
            }

            return inner is OperationCanceledException ? "cancelled or timed out" : inner.GetType().Name;
        }
    }

    /// <summary>Reports Google.Apis.Auth's token requests to <see cref="HttpTrace"/> (no attempt number: the library retries them itself).</summary>
    internal sealed class TokenTraceHandler : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (!HttpTrace.IsOn || request.RequestUri is null)
            {
                return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
            }

            var start = Stopwatch.GetTimestamp();
            HttpResponseMessage response;
            try
            {
                response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                HttpTrace.Report("token", request.Method, request.RequestUri, null, ex, start, null);
                throw;
            }

            HttpTrace.Report("token", request.Method, request.RequestUri, (int)response.StatusCode, null, start, null);
            return response;
        }
    }
}
