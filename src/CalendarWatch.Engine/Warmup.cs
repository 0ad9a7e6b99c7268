using System;
using System.Threading;
using System.Threading.Tasks;
using CalendarWatch.Engine.Json;

namespace CalendarWatch.Engine
{
    /// <summary>
    /// Prepares, on a thread-pool thread and once per process, the in-memory work every first API request does and
    /// nothing before it needs: building the retry pipeline (Polly builds and validates it on first use, about 30 ms
    /// cold, then compiles its execution path) and the wire JSON's code. Connect-CalendarWatch starts it, so that this
    /// happens while the script goes on to read its input, not on the first request's path (started at import, it
    /// cost Import-Module about 10 ms). No network, no file, no state anyone can see: a request that comes first
    /// simply does the same work itself.
    /// </summary>
    public static class Warmup
    {
        private static int _started;

        /// <summary>Starts the warm-up unless it was started before in this process; returns at once.</summary>
        public static void Start()
        {
            if (Interlocked.Exchange(ref _started, 1) != 0) return;
            // Nothing to report if it fails: the first request does whatever this could not.
            _ = Background.Run(PrepareAsync);
        }

        /// <summary>The warm-up's work, its failures not forgotten (for tests).</summary>
        internal static async Task PrepareAsync()
        {
            var body = WireJson.Write(new ChannelWire { Id = "warm-up", Type = "web_hook", Address = "https://example.com/warm-up", Token = "t", Expiration = 0 });
            _ = WireJson.ReadChannel(body);
            _ = WireJson.ReadError("{\"error\":{\"code\":503,\"message\":\"warm-up\",\"errors\":[{\"reason\":\"backendError\"}]}}");
            _ = WireJson.Write(new StopWire { Id = "warm-up", ResourceId = "r" });
            await new RetryPolicy(new RetrySettings()).ExecuteAsync(static _ => Task.FromResult(string.Empty), new RetryCall("warm-up", null, null, null), CancellationToken.None).ConfigureAwait(false);
        }
    }
}
