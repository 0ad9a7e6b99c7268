using System;
using System.Diagnostics;
using System.IO;
using System.Net.Http;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using Xunit;

namespace CalendarWatch.Tests.Emulator
{
    public sealed class ProgramTests
    {
        private static readonly Regex ListeningLine = new Regex(@"^Listening on http://127\.0\.0\.1:(\d+)/$");

        /// <summary>A TextWriter that signals each line written.</summary>
        private sealed class LineWriter : StringWriter
        {
            private readonly TaskCompletionSource<string> _firstLine = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            public Task<string> FirstLine => _firstLine.Task;
            public override void WriteLine(string? value) { base.WriteLine(value); _firstLine.TrySetResult(value ?? ""); }
        }

        [Fact]
        public async Task InProcessRunPrintsTheListeningLineAndServesUntilCancelled()
        {
            var output = new LineWriter();
            using var stop = new CancellationTokenSource();
            var run = CalendarWatch.Emulator.Program.RunAsync(new[] { "--port", "0", "--no-auth", "--allow-http", "--latency-ms", "0", "--max-lifetime-days", "2" },
                output, TextWriter.Null, stop.Token);
            var line = await output.FirstLine.WaitAsync(TimeSpan.FromSeconds(60));
            var match = ListeningLine.Match(line);
            Assert.True(match.Success, line);
            using (var http = new HttpClient(new HttpClientHandler { UseProxy = false }))
            using (var r = await http.GetAsync("http://127.0.0.1:" + match.Groups[1].Value + "/emulator/v1/stats"))
                Assert.Equal(System.Net.HttpStatusCode.OK, r.StatusCode);
            stop.Cancel();
            Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(60)));
        }

        [Fact]
        public void ArgumentsMapToOptions()
        {
            var options = CalendarWatch.Emulator.Program.ParseArguments(
                new[] { "--no-auth", "--allow-http", "--latency-ms", "25", "--max-lifetime-days", "3" }, TextWriter.Null)!;
            Assert.Equal(8085, options.Port);
            Assert.True(options.NoAuth);
            Assert.True(options.AllowHttp);
            Assert.Equal(TimeSpan.FromMilliseconds(25), options.Latency);
            Assert.Equal(TimeSpan.FromDays(3), options.MaxChannelLifetime);
            var error = new StringWriter();
            Assert.Null(CalendarWatch.Emulator.Program.ParseArguments(new[] { "--bogus" }, error));
            Assert.Contains("Unknown argument: --bogus", error.ToString());
            Assert.Null(CalendarWatch.Emulator.Program.ParseArguments(new[] { "--port" }, TextWriter.Null));
            Assert.Null(CalendarWatch.Emulator.Program.ParseArguments(new[] { "--port", "x" }, TextWriter.Null));
        }

        [Fact]
        public async Task TheBuiltExecutablePrintsTheListeningLine()
        {
            var dll = Path.Combine(AppContext.BaseDirectory, "CalendarWatch.Emulator.dll");
            Assert.True(File.Exists(dll), dll);
            var info = new ProcessStartInfo("dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                StandardOutputEncoding = Encoding.UTF8,
            };
            info.ArgumentList.Add(dll);
            info.ArgumentList.Add("--port");
            info.ArgumentList.Add("0");
            using var process = Process.Start(info)!;
            try
            {
                var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(90));
                Assert.True(line != null && ListeningLine.IsMatch(line), line ?? "(no output) " + await process.StandardError.ReadToEndAsync());
            }
            finally
            {
                if (!process.HasExited) process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
            }
        }
    }
}
