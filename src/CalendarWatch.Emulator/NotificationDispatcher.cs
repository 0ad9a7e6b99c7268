using System;
using System.Collections.Generic;
using System.Globalization;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;

namespace CalendarWatch.Emulator
{
    /// <summary>
    /// Posts notifications on background tasks (never on the API request's path) with one shared HttpClient.
    /// Messages to one channel go out one after another, in message-number order.
    /// </summary>
    internal sealed class NotificationDispatcher : IDisposable
    {
        private readonly EmulatorState _state;
        private readonly EmulatorOptions _options;
        private readonly HttpClient _http;
        private readonly CancellationTokenSource _stopping = new CancellationTokenSource();
        private readonly object _signalGate = new object();
        private TaskCompletionSource<bool> _changed = NewSignal();

        public NotificationDispatcher(EmulatorState state, EmulatorOptions options)
        {
            _state = state;
            _options = options;
            _http = new HttpClient(new HttpClientHandler { UseProxy = false, AllowAutoRedirect = false }) { Timeout = options.DeliveryTimeout };
        }

        private static TaskCompletionSource<bool> NewSignal() => new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completes on the next change to any delivery.</summary>
        public Task Changed { get { lock (_signalGate) return _changed.Task; } }

        public void Signal()
        {
            TaskCompletionSource<bool> old;
            lock (_signalGate) { old = _changed; _changed = NewSignal(); }
            old.TrySetResult(true);
        }

        /// <summary>Queues one message to a channel. Call with the state gate held; returns at once.</summary>
        public void Enqueue(ChannelRecord channel, string resourceState)
        {
            var data = channel.Data;
            var number = ++channel.LastMessageNumber;
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
            {
                ["X-Goog-Channel-ID"] = data.Id,
                ["X-Goog-Message-Number"] = number.ToString(CultureInfo.InvariantCulture),
                ["X-Goog-Resource-ID"] = data.ResourceId,
                ["X-Goog-Resource-State"] = resourceState,
                ["X-Goog-Resource-URI"] = data.ResourceUri,
                ["X-Goog-Channel-Expiration"] = data.Expiration.ToUniversalTime().ToString("r", CultureInfo.InvariantCulture),
            };
            if (data.Token != null) headers["X-Goog-Channel-Token"] = data.Token;
            var delivery = new EmulatedDelivery
            {
                ChannelId = data.Id,
                Address = data.Address,
                MessageNumber = number,
                ResourceState = resourceState,
                Headers = headers,
                CreatedAt = _state.Now,
            };
            _state.Deliveries.Add(delivery);
            channel.Chain = channel.Chain.ContinueWith(_ => DeliverAsync(channel, delivery), CancellationToken.None,
                TaskContinuationOptions.None, TaskScheduler.Default).Unwrap();
            Signal();
        }

        private bool StillDeliverable(ChannelRecord channel)
        {
            lock (_state.Gate) return !channel.Stopped && channel.Data.Expiration > _state.Now;
        }

        private async Task DeliverAsync(ChannelRecord channel, EmulatedDelivery delivery)
        {
            var delay = _options.DeliveryRetryBaseDelay;
            var maxAttempts = Math.Max(1, _options.DeliveryMaxAttempts);
            try
            {
                while (true)
                {
                    if (_stopping.IsCancellationRequested || !StillDeliverable(channel))
                    {
                        Update(delivery, d => d.Outcome = "gaveUp"); // stopped, expired or shut down: nothing more is sent
                        return;
                    }
                    int? status = await PostAsync(delivery).ConfigureAwait(false);
                    bool retryable = status == null || status == 500 || status == 502 || status == 503 || status == 504;
                    bool delivered = status == 200 || status == 201 || status == 202 || status == 204 || status == 102;
                    int attempts = 0;
                    Update(delivery, d =>
                    {
                        d.Attempts++;
                        attempts = d.Attempts;
                        d.StatusCode = status;
                        d.Outcome = delivered ? "delivered" : !retryable ? "failed" : d.Attempts >= maxAttempts ? "gaveUp" : "retrying";
                        _state.DeliveryAttempts++;
                    });
                    if (delivered || !retryable || attempts >= maxAttempts) return;
                    await Task.Delay(delay, _stopping.Token).ConfigureAwait(false);
                    delay = TimeSpan.FromTicks(delay.Ticks * 2);
                }
            }
            catch (OperationCanceledException)
            {
                Update(delivery, d => { if (d.Outcome == "retrying" || d.Outcome == "pending") d.Outcome = "gaveUp"; });
            }
        }

        private async Task<int?> PostAsync(EmulatedDelivery delivery)
        {
            try
            {
                using (var request = new HttpRequestMessage(HttpMethod.Post, delivery.Address))
                {
                    foreach (var h in delivery.Headers) request.Headers.TryAddWithoutValidation(h.Key, h.Value);
                    request.Headers.TryAddWithoutValidation("User-Agent", "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)");
                    request.Content = new ByteArrayContent(Array.Empty<byte>());
                    using (var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, _stopping.Token).ConfigureAwait(false))
                        return (int)response.StatusCode;
                }
            }
            catch (Exception e) when (e is HttpRequestException || e is TaskCanceledException || e is System.IO.IOException || e is ObjectDisposedException)
            {
                if (_stopping.IsCancellationRequested || e is ObjectDisposedException) throw new OperationCanceledException();
                return null; // no response: connection refused, reset or timed out
            }
        }

        private void Update(EmulatedDelivery delivery, Action<EmulatedDelivery> change)
        {
            lock (_state.Gate) change(delivery);
            Signal();
        }

        public async Task<bool> WaitAsync(Func<IReadOnlyList<EmulatedDelivery>, bool> condition, TimeSpan timeout)
        {
            if (condition == null) throw new ArgumentNullException(nameof(condition));
            var deadline = DateTime.UtcNow + timeout;
            while (true)
            {
                var changed = Changed; // take the signal before looking, so no change is missed
                if (condition(_state.SnapshotDeliveries())) return true;
                var remaining = deadline - DateTime.UtcNow;
                if (remaining <= TimeSpan.Zero) return false;
                var finished = await Task.WhenAny(changed, Task.Delay(remaining)).ConfigureAwait(false);
                if (finished != changed) return condition(_state.SnapshotDeliveries());
            }
        }

        public void Dispose()
        {
            _stopping.Cancel();
            _http.Dispose();
            Signal();
        }
    }
}
