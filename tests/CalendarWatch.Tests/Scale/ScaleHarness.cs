using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using CalendarWatch.Emulator;
using CalendarWatch.Engine;

namespace CalendarWatch.Tests.Scale
{
    /// <summary>One emulator (no auth, http addresses) and one connection to it, per test.</summary>
    internal sealed class ScaleHarness : IAsyncDisposable
    {
        public const string Calendar = "room-1@resource.calendar.google.com";

        /// <summary>Generous: it only guards signalled waits, so passing tests never spend it.</summary>
        public static readonly TimeSpan WaitTimeout = TimeSpan.FromSeconds(60);

        private ScaleHarness(CalendarEmulator emulator)
        {
            Emulator = emulator;
            Connection = CalendarConnection.ForEmulator(emulator.BaseUri);

            // Tiny delays: the tests check what is retried and how often, not how long a real backoff takes.
            Connection.Retry = new RetrySettings { BaseDelay = TimeSpan.FromMilliseconds(1), MaxDelay = TimeSpan.FromMilliseconds(20), RetryTimeLimit = TimeSpan.FromSeconds(60) };
            Client = new CalendarApiClient(Connection);

            // Notifications go to a path the emulator answers 404: one delivery attempt, no receiver needed.
            Address = new Uri(emulator.BaseUri, "scale-test-sink");
        }

        public CalendarEmulator Emulator { get; }

        public CalendarConnection Connection { get; }

        public CalendarApiClient Client { get; }

        public Uri Address { get; }

        public static async Task<ScaleHarness> StartAsync()
        {
            var emulator = await CalendarEmulator.StartAsync(new EmulatorOptions { Port = 0, NoAuth = true, AllowHttp = true });
            emulator.CreateCalendar(Calendar, EmulatorOptions.NoAuthPrincipal);
            return new ScaleHarness(emulator);
        }

        public WatchRequest Request(string channelId, string? calendarId = null) => new WatchRequest
        {
            CalendarId = calendarId ?? Calendar,
            Resource = WatchResource.Events,
            ChannelId = channelId,
            Address = Address,
        };

        public IEnumerable<WatchRequest> Requests(string prefix, int count)
        {
            for (var i = 0; i < count; i++)
            {
                yield return Request(prefix + "-" + i.ToString("D5", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        public long Requests(string method) => Emulator.Stats.RequestsByMethod.TryGetValue(method, out var n) ? n : 0;

        public HashSet<string> ChannelIds(string prefix) =>
            new HashSet<string>(Emulator.Channels.Where(c => c.Id.StartsWith(prefix, StringComparison.Ordinal)).Select(c => c.Id), StringComparer.Ordinal);

        public async ValueTask DisposeAsync()
        {
            Connection.Dispose();
            await Emulator.DisposeAsync();
        }
    }
}
