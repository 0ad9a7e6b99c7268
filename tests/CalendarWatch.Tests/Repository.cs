using System;
using System.IO;
using System.Text.RegularExpressions;

namespace CalendarWatch.Tests
{
    /// <summary>Files of the repository the tests were built from (found upwards from the test binaries).</summary>
    internal static class Repository
    {
        private static readonly Lazy<string> RootPath = new Lazy<string>(() => FindRoot(AppContext.BaseDirectory));

        /// <summary>The folder that holds CalendarWatch.slnx.</summary>
        public static string Root => RootPath.Value;

        public static string Manifest => Path.Combine(Root, "CalendarWatch.psd1");

        /// <summary>The manifest's ModuleVersion: the one version source (Directory.Build.props reads it the same way).</summary>
        public static Version ModuleVersion()
        {
            var match = Regex.Match(File.ReadAllText(Manifest), @"ModuleVersion\s*=\s*'([0-9.]+)'");
            if (!match.Success) throw new InvalidOperationException($"No ModuleVersion in {Manifest}.");
            return Version.Parse(match.Groups[1].Value);
        }

        private static string FindRoot(string start)
        {
            for (var directory = new DirectoryInfo(start); directory != null; directory = directory.Parent)
            {
                if (File.Exists(Path.Combine(directory.FullName, "CalendarWatch.slnx")))
                {
                    return directory.FullName;
                }
            }

            throw new InvalidOperationException($"No CalendarWatch.slnx above {start}.");
        }
    }
}
