using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;

namespace CalendarWatch.Engine.Notifications
{
    /// <summary>
    /// A webhook receiver on <see cref="HttpListener"/>: answers each notification as a good receiver does (200 at once
    /// when accepted, 400 malformed, 403 wrong token, 405 not a POST, 413 a body over <see cref="MaxBodyBytes"/>) and hands
    /// each verdict to the caller. Requests are served concurrently. Closing it (or cancelling <see cref="RunAsync"/>)
    /// frees the port at once.
    /// </summary>
    public sealed class NotificationListener : IDisposable
    {
        /// <summary>Google's notifications have an empty body: anything larger than this is refused unread.</summary>
        public const int MaxBodyBytes = 64 * 1024;

        private readonly HttpListener _listener;
        private readonly NotificationReader _reader;
        private readonly TimeSpan _bodyTimeout;
        private int _closed;
        private volatile bool _closeAfterAnswer;

        private NotificationListener(HttpListener listener, NotificationReader reader, TimeSpan bodyTimeout)
        {
            _listener = listener;
            _reader = reader;
            _bodyTimeout = bodyTimeout;
            Prefixes = listener.Prefixes.ToArray();
        }

        /// <summary>The prefixes it listens on.</summary>
        public IReadOnlyList<string> Prefixes { get; }

        /// <summary>
        /// Starts listening on <paramref name="prefixes"/> (HttpListener prefixes, ending in '/'), or on loopback port
        /// <paramref name="port"/> when no prefix is given (http://127.0.0.1:PORT/; on Windows, where a user who is not an
        /// administrator may listen on localhost prefixes only, http://localhost:PORT/).
        /// </summary>
        public static NotificationListener Start(IReadOnlyList<string>? prefixes, int port, NotificationReader reader, TimeSpan timeout)
        {
            if (reader is null) throw new ArgumentNullException(nameof(reader));
            if (timeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(timeout));
            var asked = prefixes is { Count: > 0 } ? prefixes! : new[] { $"http://127.0.0.1:{port}/" };
            // Null only for one 127.0.0.1 prefix that Windows refused: the same port on localhost instead.
            var listener = Open(asked) ?? Open(new[] { "http://localhost:" + new Uri(asked[0]).Port + "/" })!;

            SetTimeouts(listener, timeout);
            return new NotificationListener(listener, reader, timeout);
        }

        /// <summary>Null when Windows refused an IP-address prefix to a user who is not an administrator (access denied).</summary>
        private static HttpListener? Open(IReadOnlyList<string> prefixes)
        {
            var listener = new HttpListener { IgnoreWriteExceptions = true };
            try
            {
                foreach (var prefix in prefixes) listener.Prefixes.Add(prefix);
                listener.Start();
                return listener;
            }
            catch (HttpListenerException ex) when (ex.ErrorCode == 5 && RuntimeInformation.IsOSPlatform(OSPlatform.Windows) && prefixes.Count == 1 && prefixes[0].StartsWith("http://127.0.0.1:", StringComparison.Ordinal))
            {
                listener.Close();
                return null;
            }
            catch (Exception ex) when (ex is HttpListenerException || ex is ArgumentException || ex is System.Net.Sockets.SocketException)
            {
                ((IDisposable)listener).Dispose();
                throw new CalendarWatchException("CalendarWatch.ListenFailed", FailureKind.ResourceUnavailable,
                    $"Cannot listen on {string.Join(", ", prefixes)}: {ex.Message} Choose another -Port (or -Prefix), or stop what holds it" +
                    (RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? "; prefixes other than localhost need an administrator or a URL ACL (netsh http add urlacl)." : "."), ex);
            }
        }

        /// <summary>HTTP.sys (Windows) times out idle connections, slow headers and slow bodies itself; the managed listener elsewhere has no such knobs.</summary>
        private static void SetTimeouts(HttpListener listener, TimeSpan timeout)
        {
            if (!RuntimeInformation.IsOSPlatform(OSPlatform.Windows)) return;
            try
            {
                var manager = listener.TimeoutManager;
                manager.IdleConnection = timeout;
                manager.HeaderWait = timeout;
                manager.EntityBody = timeout;
                manager.DrainEntityBody = timeout;
                manager.RequestQueue = timeout;
            }
            catch (Exception ex) when (ex is PlatformNotSupportedException || ex is HttpListenerException || ex is ArgumentOutOfRangeException)
            {
            }
        }

        /// <summary>
        /// Serves requests until <paramref name="cancellationToken"/> is cancelled or the listener is closed, then waits for
        /// the requests in progress. <paramref name="deliver"/> gets each verdict before it is answered (any thread); for an
        /// accepted notification it returns false to have it answered 503 instead (Google delivers it again later).
        /// </summary>
        public async Task RunAsync(Func<NotificationVerdict, bool> deliver, CancellationToken cancellationToken)
        {
            if (deliver is null) throw new ArgumentNullException(nameof(deliver));
            using (cancellationToken.Register(static s => ((NotificationListener)s!).Close(), this))
            {
                // A few accept loops, each answering what it took before taking the next: no hand-off per request, and
                // a request without a body (every notification) is answered without leaving the loop's thread.
                var loops = new Task[Math.Max(4, Environment.ProcessorCount * 2)];
                for (var i = 0; i < loops.Length; i++) loops[i] = Task.Run(() => AcceptLoopAsync(deliver, cancellationToken));
                await Task.WhenAll(loops).ConfigureAwait(false);
            }
        }

        private async Task AcceptLoopAsync(Func<NotificationVerdict, bool> deliver, CancellationToken cancellationToken)
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync().ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is HttpListenerException || ex is ObjectDisposedException || ex is InvalidOperationException)
                {
                    return;
                }

                await HandleAsync(context, deliver).ConfigureAwait(false);
            }
        }

        private async Task HandleAsync(HttpListenerContext context, Func<NotificationVerdict, bool> deliver)
        {
            var receivedAt = DateTimeOffset.UtcNow;
            var request = context.Request;
            var response = context.Response;
            try
            {
                if (!string.Equals(request.HttpMethod, "POST", StringComparison.Ordinal))
                {
                    response.AddHeader("Allow", "POST");
                    Answer(response, 405);
                    return;
                }

                if (request.ContentLength64 > MaxBodyBytes || (request.HasEntityBody && !await DrainBodyAsync(request).ConfigureAwait(false)))
                {
                    response.KeepAlive = false;
                    Answer(response, 413);
                    return;
                }

                var headers = request.Headers;
                var verdict = _reader.Read(name => headers.GetValues(name), receivedAt);
                var status = verdict.StatusCode;
                if (!deliver(verdict) && status == 200) status = 503;
                Answer(response, status);
                if (_closeAfterAnswer) Close();
            }
            catch (OperationCanceledException)
            {
                // The body did not come within the time limit: the connection is dropped.
                Abort(response);
            }
            catch (Exception ex) when (ex is HttpListenerException || ex is ObjectDisposedException || ex is System.IO.IOException || ex is InvalidOperationException)
            {
                Abort(response);
            }
        }

        /// <summary>Reads a body (Google sends none) up to the limit, within the time limit. False: over the limit.</summary>
        private async Task<bool> DrainBodyAsync(HttpListenerRequest request)
        {
            using var timeout = new CancellationTokenSource(_bodyTimeout);
            var buffer = new byte[4096];
            long total = 0;
            var stream = request.InputStream;
            while (true)
            {
                var read = await ReadAsync(stream, buffer, timeout.Token).ConfigureAwait(false);
                if (read == 0) return true;
                total += read;
                if (total > MaxBodyBytes) return false;
            }
        }

        private static async Task<int> ReadAsync(System.IO.Stream stream, byte[] buffer, CancellationToken token)
        {
            var read = stream.ReadAsync(buffer, 0, buffer.Length, token);
            var finished = await Task.WhenAny(read, Task.Delay(Timeout.Infinite, token)).ConfigureAwait(false);
            if (finished != read) throw new OperationCanceledException(token);
            return await read.ConfigureAwait(false);
        }

        private static void Answer(HttpListenerResponse response, int status)
        {
            response.StatusCode = status;
            response.ContentLength64 = 0;
            response.Close();
        }

        private static void Abort(HttpListenerResponse response)
        {
            try
            {
                response.Abort();
            }
            catch (Exception ex) when (ex is ObjectDisposedException || ex is HttpListenerException || ex is InvalidOperationException)
            {
            }
        }

        /// <summary>
        /// Closes the listener once the request being decided now is answered (call it from the deliver callback): the
        /// last notification a caller wants still gets its 200.
        /// </summary>
        public void CloseAfterAnswer() => _closeAfterAnswer = true;

        /// <summary>Stops listening and frees the port at once; requests in progress end. Thread-safe, idempotent.</summary>
        public void Close()
        {
            if (Interlocked.Exchange(ref _closed, 1) != 0) return;
            try
            {
                // Close alone: after Stop, the managed listener's Close binds the port again for a moment.
                _listener.Close();
            }
            catch (ObjectDisposedException)
            {
            }
        }

        public void Dispose() => Close();
    }
}
