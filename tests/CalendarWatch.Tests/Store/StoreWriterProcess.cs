using System;
using System.Diagnostics;
using System.IO;
using System.Text;
using CalendarWatch.Benchmarks;

namespace CalendarWatch.Tests.Store
{
    /// <summary>The benchmark program's hidden <c>--store-writer</c> mode as a child process: another writer of the same file.</summary>
    internal static class StoreWriterProcess
    {
        public static Process Start(string path, string prefix, int count, int threads)
        {
            var dll = Path.Combine(AppContext.BaseDirectory, "CalendarWatch.Benchmarks.dll");
            if (!File.Exists(dll)) throw new FileNotFoundException("The benchmark program is not next to the tests.", dll);
            var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
            var info = new ProcessStartInfo(string.IsNullOrEmpty(host) ? "dotnet" : host)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                StandardOutputEncoding = Encoding.UTF8,
                CreateNoWindow = true,
            };
            info.ArgumentList.Add(dll);
            info.ArgumentList.Add(StoreWriter.Flag);
            info.ArgumentList.Add(path);
            info.ArgumentList.Add(prefix);
            info.ArgumentList.Add(count.ToString(System.Globalization.CultureInfo.InvariantCulture));
            info.ArgumentList.Add(threads.ToString(System.Globalization.CultureInfo.InvariantCulture));
            info.Environment.Remove("CALENDARWATCH_STORE");
            return Process.Start(info) ?? throw new InvalidOperationException("The store writer did not start.");
        }
    }
}
