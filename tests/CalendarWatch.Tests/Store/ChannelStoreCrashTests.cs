using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading.Tasks;
using CalendarWatch.Engine.Store;
using Xunit;
using Xunit.Abstractions;

namespace CalendarWatch.Tests.Store
{
    /// <summary>
    /// A writer killed at random moments (Process.Kill, as a closed console or a stopped scheduled task would) leaves
    /// a file that opens, passes integrity_check, and holds every row the writer had reported committed.
    /// </summary>
    public sealed class ChannelStoreCrashTests
    {
        private readonly ITestOutputHelper _output;

        public ChannelStoreCrashTests(ITestOutputHelper output) => _output = output;

        [Fact]
        public async Task KilledWritersLoseNoCommittedRow()
        {
            using var folder = new StoreFolder();
            var path = folder.File();
            var random = new Random(20250301);
            var pending = new HashSet<string>(StringComparer.Ordinal);
            var active = new HashSet<string>(StringComparer.Ordinal);
            for (var round = 0; round < 20; round++)
            {
                // Kill after a random number of reported commits: 0 kills while the child starts or migrates.
                var killAfter = round == 0 ? 0 : random.Next(1, 120);
                using var child = StoreWriterProcess.Start(path, "r" + round, 100_000, 3);
                var stderr = child.StandardError.ReadToEndAsync();
                var seen = 0;
                try
                {
                    while (seen < killAfter)
                    {
                        var line = await child.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(90));
                        if (line is null) break;
                        if (Record(line, pending, active)) seen++;
                    }
                }
                finally
                {
                    child.Kill(entireProcessTree: true);
                }

                // Lines the child wrote before it died are commits too.
                string? rest;
                while ((rest = await child.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60))) != null)
                {
                    Record(rest, pending, active);
                }

                await child.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
                _ = await stderr;

                Assert.Equal("ok", StoreData.RawScalar(path, "PRAGMA integrity_check;"));
                using var store = ChannelStore.Open(path);
                var rows = store.Query(new ChannelQuery { AllStates = true }).ToDictionary(r => r.ChannelId);
                var lost = pending.Where(id => !rows.ContainsKey(id)).ToList();
                Assert.True(lost.Count == 0, $"round {round}: committed but missing: {string.Join(", ", lost.Take(10))}");
                var demoted = active.Where(id => rows[id].State != ChannelState.Active || rows[id].ResourceId is null).ToList();
                Assert.True(demoted.Count == 0, $"round {round}: reported active but not: {string.Join(", ", demoted.Take(10))}");
                _output.WriteLine($"round {round}: killed after {seen} reported commits; {rows.Count} rows, {pending.Count} reported pending, {active.Count} reported active");
            }

            Assert.True(pending.Count > 20, "the children committed almost nothing before they were killed");
        }

        private static bool Record(string line, HashSet<string> pending, HashSet<string> active)
        {
            if (line.StartsWith("pending ", StringComparison.Ordinal))
            {
                pending.Add(line.Substring(8));
                return true;
            }

            if (line.StartsWith("active ", StringComparison.Ordinal))
            {
                active.Add(line.Substring(7));
                return true;
            }

            return false;
        }
    }
}
