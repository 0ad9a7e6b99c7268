using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace CalendarWatch.Tests.Emulator
{
    /// <summary>One notification a <see cref="TestReceiver"/> got.</summary>
    public sealed class ReceivedNotification
    {
        public ReceivedNotification(string method, string path, IReadOnlyDictionary<string, string> headers, string body, int answeredWith)
        { Method = method; Path = path; Headers = headers; Body = body; AnsweredWith = answeredWith; }

        public string Method { get; }
        public string Path { get; }
        /// <summary>Case-insensitive header names.</summary>
        public IReadOnlyDictionary<string, string> Headers { get; }
        public string Body { get; }
        /// <summary>The status code the receiver answered.</summary>
        public int AnsweredWith { get; }

        public string? Header(string name) => Headers.TryGetValue(name, out var v) ? v : null;
        public string? ChannelId => Header("X-Goog-Channel-ID");
        public long MessageNumber => long.Parse(Header("X-Goog-Message-Number") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
        public string? ResourceState => Header("X-Goog-Resource-State");
    }

    /// <summary>
    /// A webhook receiver on http://127.0.0.1:PORT/hook for tests: records every request and answers a configurable
    /// status code (a queue of codes first, then <see cref="DefaultStatus"/>). Waits are signalled, never slept.
    /// </summary>
    public sealed class TestReceiver : IAsyncDisposable
    {
        private readonly HttpListener _listener;
        private readonly object _gate = new object();
        private readonly List<ReceivedNotification> _received = new List<ReceivedNotification>();
        private readonly ConcurrentQueue<int> _statuses = new ConcurrentQueue<int>();
        private readonly TaskCompletionSource<bool> _stopped = NewSignal();
        private readonly Task _loop;
        private TaskCompletionSource<bool> _changed = NewSignal();

        private TestReceiver(HttpListener listener, int port)
        {
            _listener = listener;
            Address = new Uri("http://127.0.0.1:" + port + "/hook");
            _loop = Task.Run(LoopAsync);
        }

        /// <summary>Starts on a free loopback port.</summary>
        public static TestReceiver Start()
        {
            for (int attempt = 0; ; attempt++)
            {
                var probe = new TcpListener(IPAddress.Loopback, 0);
                probe.Start();
                int port = ((IPEndPoint)probe.LocalEndpoint).Port;
                probe.Stop();
                var listener = new HttpListener();
                listener.Prefixes.Add("http://127.0.0.1:" + port + "/");
                try { listener.Start(); return new TestReceiver(listener, port); }
                catch (HttpListenerException) when (attempt < 20) { listener.Close(); }
            }
        }

        /// <summary>The URL to give as a channel address.</summary>
        public Uri Address { get; }

        /// <summary>The status answered once the queue of <see cref="EnqueueStatuses"/> is empty (200 unless set).</summary>
        public int DefaultStatus { get; set; } = 200;

        /// <summary>Answers the next requests with these codes, in order.</summary>
        public void EnqueueStatuses(params int[] statuses) { foreach (var s in statuses) _statuses.Enqueue(s); }

        public IReadOnlyList<ReceivedNotification> Received { get { lock (_gate) return _received.ToList(); } }

        /// <summary>Notifications of one channel, in message-number order.</summary>
        public IReadOnlyList<ReceivedNotification> ForChannel(string channelId) =>
            Received.Where(n => n.ChannelId == channelId).OrderBy(n => n.MessageNumber).ToList();

        /// <summary>Waits (signalled on every request) until the condition holds or the timeout passes.</summary>
        public async Task<bool> WaitForAsync(Func<IReadOnlyList<ReceivedNotification>, bool> condition, TimeSpan? timeout = null)
        {
            var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
            while (true)
            {
                Task changed;
                lock (_gate) changed = _changed.Task;
                if (condition(Received)) return true;
                var remaining = deadline - DateTime.UtcNow;
                if (remaining <= TimeSpan.Zero) return false;
                if (await Task.WhenAny(changed, Task.Delay(remaining)).ConfigureAwait(false) != changed) return condition(Received);
            }
        }

        private static TaskCompletionSource<bool> NewSignal() => new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);

        private async Task LoopAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    // As in CalendarEmulator: a GetContext that starts while Stop runs may never complete, so the wait
                    // also ends when DisposeAsync says so.
                    var next = _listener.GetContextAsync();
                    if (await Task.WhenAny(next, _stopped.Task).ConfigureAwait(false) != next)
                    {
                        _ = next.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
                        return;
                    }
                    context = await next.ConfigureAwait(false);
                }
                catch (Exception e) when (e is HttpListenerException || e is ObjectDisposedException || e is InvalidOperationException) { return; }
                try
                {
                    string body;
                    using (var reader = new StreamReader(context.Request.InputStream)) body = await reader.ReadToEndAsync().ConfigureAwait(false);
                    var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                    foreach (string? key in context.Request.Headers.AllKeys)
                        if (key != null) headers[key] = context.Request.Headers[key] ?? "";
                    int status = _statuses.TryDequeue(out var s) ? s : DefaultStatus;
                    var note = new ReceivedNotification(context.Request.HttpMethod, context.Request.RawUrl ?? "", headers, body, status);
                    // Recorded before answering: whoever sees the answer can rely on the record.
                    TaskCompletionSource<bool> old;
                    lock (_gate) { _received.Add(note); old = _changed; _changed = NewSignal(); }
                    old.TrySetResult(true);
                    context.Response.StatusCode = status;
                    context.Response.ContentLength64 = 0;
                    context.Response.Close();
                }
                catch (Exception e) when (e is HttpListenerException || e is IOException || e is ObjectDisposedException)
                {
                    // the emulator gave up on the connection; nothing to record
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            _stopped.TrySetResult(true);
            // Close alone: Stop then Close makes the managed HttpListener bind the port again for a moment (see CalendarEmulator).
            try { _listener.Close(); } catch (ObjectDisposedException) { }
            try { await _loop.ConfigureAwait(false); } catch { /* ended with the listener */ }
        }
    }
}
