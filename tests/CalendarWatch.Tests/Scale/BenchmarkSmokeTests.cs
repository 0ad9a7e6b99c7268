using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using CalendarWatch.Benchmarks;
using Xunit;

namespace CalendarWatch.Tests.Scale
{
    /// <summary>
    /// The benchmark at tiny sizes (--smoke), emulator in its own process: it must run end to end and print its
    /// figures as "name value unit". Asserts on what it prints, never on timing (figures come from the full run).
    /// </summary>
    public sealed class BenchmarkSmokeTests
    {
        [Fact]
        public async Task SmokeRunPrintsEveryFigure()
        {
            using var output = new StringWriter(CultureInfo.InvariantCulture);
            var exit = await BenchmarkRunner.RunAsync(new[] { "--smoke" }, output);
            var text = output.ToString();
            Assert.True(exit == 0, text);

            var figures = new Dictionary<string, (double Value, string Unit)>(StringComparer.Ordinal);
            foreach (var line in text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0 && !l.StartsWith("#", StringComparison.Ordinal)))
            {
                var parts = line.Split(' ');
                Assert.True(parts.Length == 3, $"not 'name value unit': {line}");
                Assert.True(double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var value), $"not a number: {line}");
                figures[parts[0]] = (value, parts[2]);
            }

            foreach (var name in new[]
            {
                "baseline_sequential_wall", "engine_t8_wall", "speedup_over_baseline", "engine_wall_over_latency_bound",
                "quota_failures", "quota_wall", "quota_wall_over_bound", "stream_cpu_per_channel", "stream_peak_working_set",
                "stream_managed_heap_growth", "token_requests", "import_module_median",
                "store_list_100k", "store_filter_100k", "store_write_per_channel", "store_write_per_channel_full_sync",
                "receive_rate_achieved", "receive_status_not_200", "receive_lost", "receive_latency_p99", "receive_cpu_per_notification",
                "pipeline_first_run_wall_over_measured_request_bound", "pipeline_second_run_wall_over_measured_request_bound", "pipeline_cpu_per_channel",
            })
            {
                Assert.True(figures.ContainsKey(name), $"'{name}' missing from:\n{text}");
            }

            // Quota pacing at default retry settings, short and long window, 403 and 429; an endpoint that is down.
            // Only that the lines are there: their values come from the full run.
            foreach (var combo in new[] { "1s_403", "1s_429", "10s_403", "10s_429" })
            {
                foreach (var figure in new[] { "wall", "bound", "wall_over_bound", "sent", "refused", "refused_share", "failures" })
                {
                    Assert.True(figures.ContainsKey($"quota_default_{combo}_{figure}"), $"'quota_default_{combo}_{figure}' missing from:\n{text}");
                }

                Assert.Equal("x", figures[$"quota_default_{combo}_wall_over_bound"].Unit);
                Assert.Equal("%", figures[$"quota_default_{combo}_refused_share"].Unit);
            }

            foreach (var name in new[] { "closed_port_40", "closed_token_port_40" })
            {
                foreach (var figure in new[] { "wall", "failures", "endpoint_unreachable", "connection_attempts" })
                {
                    Assert.True(figures.ContainsKey($"{name}_{figure}"), $"'{name}_{figure}' missing from:\n{text}");
                }

                Assert.Equal("s", figures[$"{name}_wall"].Unit);
            }

            Assert.Equal(0, figures["baseline_failures"].Value);
            Assert.Equal(0, figures["engine_t8_failures"].Value);
            Assert.Equal(0, figures["engine_order_violations"].Value);
            Assert.Equal(0, figures["quota_failures"].Value);
            Assert.Equal(0, figures["stream_failures"].Value);
            Assert.Equal(400, figures["stream_items"].Value);
            Assert.Equal(1, figures["identities"].Value);
            Assert.Equal(1, figures["token_requests"].Value);
            Assert.Equal("ms", figures["stream_cpu_per_channel"].Unit);
            Assert.Equal("MiB", figures["stream_peak_working_set"].Unit);

            // The record at smoke size: every row listed, the renewal filter finds some, recording has a cost.
            Assert.Equal(2000, figures["store_list_rows"].Value);
            Assert.InRange(figures["store_filter_rows"].Value, 1, 2000 / 50);
            Assert.Equal("s", figures["store_list_100k"].Unit);
            Assert.Equal("s", figures["store_filter_100k"].Unit);
            Assert.Equal("ms", figures["store_write_per_channel"].Unit);
            Assert.True(figures["store_write_per_channel"].Value > 0);
            Assert.Equal(1, figures["import_module_runs"].Value);
            Assert.Equal("ms", figures["import_module_median"].Unit);
            Assert.True(figures["import_module_median"].Value > 0, text);

            // The pipeline in PowerShell: every watch made in both runs and in the zero-latency run.
            Assert.Equal(40, figures["pipeline_watches"].Value);
            Assert.Equal(0, figures["pipeline_first_run_failures"].Value);
            Assert.Equal(0, figures["pipeline_second_run_failures"].Value);
            Assert.Equal(0, figures["pipeline_cpu_failures"].Value);
            Assert.Equal("x", figures["pipeline_first_run_wall_over_measured_request_bound"].Unit);
            Assert.Equal("ms", figures["pipeline_cpu_per_channel"].Unit);
        }
    }
}
