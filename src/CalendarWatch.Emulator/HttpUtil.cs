using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading;
using System.Threading.Tasks;

namespace CalendarWatch.Emulator
{
    /// <summary>A request body over its limit (announced or streamed); each surface answers it 413 in its own error shape.</summary>
    internal sealed class BodyTooLargeException : Exception
    {
        public BodyTooLargeException(long limit) : base("Request payload size exceeds the limit: " + limit + " bytes.") { Limit = limit; }
        public long Limit { get; }
    }

    /// <summary>The client left, or the connection was dropped, before the request was answered: there is no one to answer.</summary>
    internal sealed class ConnectionDroppedException : Exception
    {
        public ConnectionDroppedException(Exception? inner) : base("The connection was dropped.", inner) { }
    }

    /// <summary>Small HTTP helpers: raw-path splitting, query and form parsing, JSON answers.</summary>
    internal static class HttpUtil
    {
        private static readonly JsonSerializerOptions Indented = new JsonSerializerOptions { WriteIndented = true };
        private static readonly JsonSerializerOptions Compact = new JsonSerializerOptions { WriteIndented = false };

        /// <summary>Splits the raw (still percent-encoded) path into decoded segments, so "%2F" never becomes a separator.</summary>
        public static string[] SplitPath(string rawUrl, out string query)
        {
            int q = rawUrl.IndexOf('?');
            var path = q >= 0 ? rawUrl.Substring(0, q) : rawUrl;
            query = q >= 0 ? rawUrl.Substring(q + 1) : "";
            // Absolute-form request targets ("http://host/path") are legal HTTP/1.1.
            if (path.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || path.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
            {
                int slash = path.IndexOf('/', path.IndexOf("//", StringComparison.Ordinal) + 2);
                path = slash >= 0 ? path.Substring(slash) : "/";
            }
            var parts = path.Split('/');
            var segments = new List<string>(parts.Length);
            for (int i = 0; i < parts.Length; i++)
            {
                if (i == 0 && parts[i].Length == 0) continue;
                if (i == parts.Length - 1 && parts[i].Length == 0 && segments.Count > 0) continue; // trailing slash
                segments.Add(Uri.UnescapeDataString(parts[i]));
            }
            return segments.ToArray();
        }

        /// <summary>Parses application/x-www-form-urlencoded text (query strings too) into name → values.</summary>
        public static Dictionary<string, List<string>> ParseForm(string text)
        {
            var result = new Dictionary<string, List<string>>(StringComparer.Ordinal);
            if (string.IsNullOrEmpty(text)) return result;
            foreach (var pair in text.Split('&'))
            {
                if (pair.Length == 0) continue;
                int eq = pair.IndexOf('=');
                var name = Decode(eq >= 0 ? pair.Substring(0, eq) : pair);
                var value = eq >= 0 ? Decode(pair.Substring(eq + 1)) : "";
                if (!result.TryGetValue(name, out var list)) result[name] = list = new List<string>();
                list.Add(value);
            }
            return result;
        }

        private static string Decode(string s) => Uri.UnescapeDataString(s.Replace('+', ' '));

        public static string? First(Dictionary<string, List<string>> values, string name) =>
            values.TryGetValue(name, out var list) && list.Count > 0 ? list[0] : null;

        /// <summary>What HttpUtil keeps about one request: its body limit and time limit, and how far its body was read.</summary>
        private sealed class RequestState
        {
            public RequestState(long maxBodyBytes, TimeSpan timeout) { MaxBodyBytes = maxBodyBytes; Timeout = timeout; }
            public long MaxBodyBytes { get; }
            public TimeSpan Timeout { get; }
            public bool BodyTooLarge { get; set; }
            public bool BodyRead { get; set; }
        }

        private static readonly ConditionalWeakTable<HttpListenerContext, RequestState> States = new ConditionalWeakTable<HttpListenerContext, RequestState>();

        private static RequestState StateOf(HttpListenerContext context) =>
            States.GetValue(context, _ => new RequestState(EmulatorOptions.DefaultMaxRequestBodyBytes, EmulatorOptions.DefaultBodyTimeout));

        /// <summary>
        /// Sets the body limit of a request and the time it gets to send its body, and separately to take its answer
        /// (<see cref="EmulatorOptions.BodyTimeout"/>), before any of it is read. Once per request.
        /// </summary>
        public static void Begin(HttpListenerContext context, long maxBodyBytes, TimeSpan timeout)
        {
            States.Remove(context);
            States.Add(context, new RequestState(maxBodyBytes, timeout));
        }

        /// <summary>Throws <see cref="BodyTooLargeException"/> when the request announces (Content-Length) a body over its limit.</summary>
        public static void CheckDeclaredLength(HttpListenerContext context)
        {
            var state = StateOf(context);
            if (context.Request.HasEntityBody && context.Request.ContentLength64 > state.MaxBodyBytes)
            {
                state.BodyTooLarge = true;
                throw new BodyTooLargeException(state.MaxBodyBytes);
            }
        }

        /// <summary>
        /// Reads the whole body, never more than its limit plus one read: <see cref="BodyTooLargeException"/> as soon as it is over
        /// (announced or streamed); <see cref="ConnectionDroppedException"/> when the client goes away mid-body or takes longer than
        /// the request's timeout (the connection is then dropped: a client that slow would not take an answer either).
        /// </summary>
        public static async Task<byte[]> ReadBodyBytesAsync(HttpListenerContext context)
        {
            var body = new MemoryStream();
            await ReadBodyAsync(context, body).ConfigureAwait(false);
            return body.ToArray();
        }

        /// <summary>Reads the rest of the body into <paramref name="into"/> (or drops it when null); see <see cref="ReadBodyBytesAsync"/>.</summary>
        private static async Task ReadBodyAsync(HttpListenerContext context, MemoryStream? into)
        {
            var request = context.Request;
            var state = StateOf(context);
            if (!request.HasEntityBody || state.BodyRead) return;
            CheckDeclaredLength(context);
            var chunk = new byte[16 * 1024];
            long total = 0;
            using (var deadline = new CancellationTokenSource(state.Timeout))
            using (deadline.Token.Register(() => AbortConnection(context)))
            {
                try
                {
                    while (true)
                    {
                        int wanted = (int)Math.Min(chunk.Length, state.MaxBodyBytes + 1 - total);
                        int n = await request.InputStream.ReadAsync(chunk, 0, wanted).ConfigureAwait(false);
                        if (n == 0) break;
                        total += n;
                        if (total > state.MaxBodyBytes)
                        {
                            state.BodyTooLarge = true;
                            throw new BodyTooLargeException(state.MaxBodyBytes);
                        }
                        into?.Write(chunk, 0, n);
                    }
                }
                catch (Exception e) when (IsConnectionFailure(e))
                {
                    throw new ConnectionDroppedException(e);
                }
            }
            state.BodyRead = true;
        }

        private static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, true);

        /// <summary>
        /// The body of a JSON request as text. A non-empty body must be declared application/json (any parameters; a missing
        /// Content-Type is taken as JSON) and must be UTF-8 whatever charset it claims (RFC 8259); a leading byte-order mark is
        /// skipped. 400 badContent or parseError otherwise; 413 comes from <see cref="ReadBodyBytesAsync"/>.
        /// </summary>
        public static async Task<string> ReadJsonBodyAsync(HttpListenerContext context)
        {
            var request = context.Request;
            if (request.HasEntityBody && request.ContentLength64 != 0 && !IsJsonMediaType(request.ContentType))
                throw GoogleErrors.UnsupportedMediaType(request.ContentType!);
            var bytes = await ReadBodyBytesAsync(context).ConfigureAwait(false);
            int start = bytes.Length >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0;
            try
            {
                return StrictUtf8.GetString(bytes, start, bytes.Length - start);
            }
            catch (DecoderFallbackException)
            {
                throw GoogleErrors.ParseError("Invalid JSON payload received. The body is not valid UTF-8.");
            }
        }

        /// <summary>True for "application/json" with or without parameters, and for no Content-Type at all.</summary>
        public static bool IsJsonMediaType(string? contentType)
        {
            if (string.IsNullOrWhiteSpace(contentType)) return true;
            int semicolon = contentType!.IndexOf(';');
            var mediaType = (semicolon >= 0 ? contentType.Substring(0, semicolon) : contentType).Trim();
            return string.Equals(mediaType, "application/json", StringComparison.OrdinalIgnoreCase);
        }

        /// <summary>What reading from or writing to a connection the client has left (or that was dropped) throws.</summary>
        public static bool IsConnectionFailure(Exception e) =>
            e is IOException || e is HttpListenerException || e is ObjectDisposedException || e is SocketException || e is OperationCanceledException;

        /// <summary>
        /// Answers JSON. Whatever is left of the request body is read first (within its limit and time), so that the connection can
        /// serve the next request and the listener has nothing left to drain; the answer must be taken within the request's time.
        /// </summary>
        public static async Task WriteJsonAsync(HttpListenerContext context, int status, JsonNode body, bool pretty = true,
            IReadOnlyDictionary<string, string>? headers = null)
        {
            var bytes = new UTF8Encoding(false).GetBytes(body.ToJsonString(pretty ? Indented : Compact));
            await FinishRequestAsync(context).ConfigureAwait(false);
            var response = context.Response;
            response.StatusCode = status;
            response.ContentType = "application/json; charset=UTF-8";
            if (headers != null) foreach (var h in headers) response.Headers[h.Key] = h.Value;
            response.ContentLength64 = bytes.Length;
            await SendAsync(context, bytes).ConfigureAwait(false);
        }

        /// <summary>Answers with no body (see <see cref="WriteJsonAsync"/>).</summary>
        public static async Task WriteEmptyAsync(HttpListenerContext context, int status)
        {
            await FinishRequestAsync(context).ConfigureAwait(false);
            var response = context.Response;
            response.StatusCode = status;
            response.ContentLength64 = 0;
            await SendAsync(context, Array.Empty<byte>()).ConfigureAwait(false);
        }

        /// <summary>
        /// Reads and drops the rest of the body. A body over its limit is never read: the connection closes after the answer.
        /// (Left unread, the managed listener would drain it synchronously on a thread-pool thread, for as long as the client
        /// keeps sending.)
        /// </summary>
        private static async Task FinishRequestAsync(HttpListenerContext context)
        {
            var state = StateOf(context);
            if (!state.BodyTooLarge)
            {
                try { await ReadBodyAsync(context, null).ConfigureAwait(false); }
                catch (BodyTooLargeException) { }
            }
            if (state.BodyTooLarge) context.Response.KeepAlive = false;
        }

        /// <summary>Writes the answer and closes it; the connection is dropped if the client does not take it within the request's time.</summary>
        private static async Task SendAsync(HttpListenerContext context, byte[] bytes)
        {
            var response = context.Response;
            using (var deadline = new CancellationTokenSource(StateOf(context).Timeout))
            using (deadline.Token.Register(() => AbortConnection(context)))
            {
                try
                {
                    if (bytes.Length > 0) await response.OutputStream.WriteAsync(bytes, 0, bytes.Length).ConfigureAwait(false);
                    response.Close();
                }
                catch (Exception e) when (IsConnectionFailure(e))
                {
                    throw new ConnectionDroppedException(e);
                }
            }
        }

        /// <summary>
        /// Drops the connection without any response. On Windows (HTTP.sys) HttpListenerResponse.Abort does that; the managed
        /// listener used elsewhere writes a 200 while "aborting", so there the socket is reset directly (RST via zero linger).
        /// </summary>
        public static void AbortConnection(HttpListenerContext context)
        {
#if NET
            if (!OperatingSystem.IsWindows())
            {
                try
                {
                    const BindingFlags flags = BindingFlags.NonPublic | BindingFlags.Instance;
                    var connection = context.GetType().GetProperty("Connection", flags)?.GetValue(context);
                    if (connection?.GetType().GetField("_socket", flags)?.GetValue(connection) is Socket socket)
                    {
                        socket.LingerState = new LingerOption(true, 0);
                        socket.Close();
                    }
                    else
                    {
                        // Unknown listener internals: promise a body that never comes, so the client still fails.
                        context.Response.ContentLength64 = 1;
                    }
                }
                catch (Exception e) when (e is ObjectDisposedException || e is SocketException || e is InvalidOperationException || e is TargetInvocationException)
                {
                    // already gone
                }
            }
#endif
            try { context.Response.Abort(); }
            catch (Exception e) when (e is ObjectDisposedException || e is SocketException || e is InvalidOperationException || e is HttpListenerException || e is IOException)
            {
                // the socket was reset above
            }
        }

        /// <summary>The most characters of client text an error message quotes.</summary>
        public const int MaxQuoted = 256;

        /// <summary>Client text as error messages quote it: at most <see cref="MaxQuoted"/> characters, then "...".</summary>
        public static string Clip(string? text) =>
            text == null ? "" : text.Length <= MaxQuoted ? text : text.Substring(0, MaxQuoted) + "...";

        public static string ToUnixMsString(DateTimeOffset time) =>
            time.ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
