using System;
using System.Globalization;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace CalendarWatch.Emulator
{
    /// <summary>
    /// Runs the emulator alone: dotnet run --project src/CalendarWatch.Emulator -- --port 8085 [--no-auth] [--allow-http]
    /// [--latency-ms N] [--max-lifetime-days N]. Prints "Listening on http://127.0.0.1:PORT/" once ready; serves until Ctrl+C.
    /// </summary>
    internal static class Program
    {
        private const string Usage =
            "Usage: CalendarWatch.Emulator [--port N] [--no-auth] [--allow-http] [--latency-ms N] [--max-lifetime-days N]\n" +
            "  --port N               TCP port on 127.0.0.1 (default 8085; 0 = any free port)\n" +
            "  --no-auth              accept any bearer token or none; the caller is user@example.com\n" +
            "  --allow-http           accept http:// channel addresses\n" +
            "  --latency-ms N         added latency per API request\n" +
            "  --max-lifetime-days N  longest channel lifetime (default 30)";

        private static int Main(string[] args)
        {
            using (var stop = new CancellationTokenSource())
            {
                ConsoleCancelEventHandler handler = (sender, e) => { e.Cancel = true; stop.Cancel(); };
                Console.CancelKeyPress += handler;
                try { return RunAsync(args, Console.Out, Console.Error, stop.Token).GetAwaiter().GetResult(); }
                finally { Console.CancelKeyPress -= handler; }
            }
        }

        /// <summary>Parses the arguments into options; null (with a message on error) when they are wrong.</summary>
        internal static EmulatorOptions? ParseArguments(string[] args, TextWriter error)
        {
            var options = new EmulatorOptions { Port = 8085 };
            for (int i = 0; i < args.Length; i++)
            {
                string arg = args[i];
                try
                {
                    switch (arg)
                    {
                        case "--port": options.Port = int.Parse(Next(args, ref i), NumberStyles.None, CultureInfo.InvariantCulture); break;
                        case "--no-auth": options.NoAuth = true; break;
                        case "--allow-http": options.AllowHttp = true; break;
                        case "--latency-ms": options.Latency = TimeSpan.FromMilliseconds(int.Parse(Next(args, ref i), NumberStyles.None, CultureInfo.InvariantCulture)); break;
                        case "--max-lifetime-days": options.MaxChannelLifetime = TimeSpan.FromDays(double.Parse(Next(args, ref i), NumberStyles.Float, CultureInfo.InvariantCulture)); break;
                        default: error.WriteLine("Unknown argument: " + arg); error.WriteLine(Usage); return null;
                    }
                }
                catch (Exception e) when (e is FormatException || e is OverflowException || e is ArgumentException)
                {
                    error.WriteLine("Invalid value for " + arg + ": " + e.Message);
                    error.WriteLine(Usage);
                    return null;
                }
            }
            if (options.Port > 65535 || options.MaxChannelLifetime <= TimeSpan.Zero)
            {
                error.WriteLine(Usage);
                return null;
            }
            return options;
        }

        private static string Next(string[] args, ref int i)
        {
            if (i + 1 >= args.Length) throw new ArgumentException("a value is required");
            return args[++i];
        }

        /// <summary>Starts the emulator, prints the Listening line, serves until <paramref name="stop"/> is cancelled.</summary>
        internal static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken stop)
        {
            if (Array.IndexOf(args, "--help") >= 0 || Array.IndexOf(args, "-h") >= 0) { output.WriteLine(Usage); return 0; }
            var options = ParseArguments(args, error);
            if (options == null) return 2;
            CalendarEmulator emulator;
            try { emulator = await CalendarEmulator.StartAsync(options, stop).ConfigureAwait(false); }
            catch (Exception e) when (e is System.Net.HttpListenerException || e is OperationCanceledException)
            {
                error.WriteLine("Cannot listen on port " + options.Port + ": " + e.Message);
                return 1;
            }
            await using (emulator.ConfigureAwait(false))
            {
                output.WriteLine("Listening on " + emulator.BaseUri.AbsoluteUri);
                output.Flush();
                var stopped = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                using (stop.Register(() => stopped.TrySetResult(true)))
                    await stopped.Task.ConfigureAwait(false);
            }
            return 0;
        }
    }
}
