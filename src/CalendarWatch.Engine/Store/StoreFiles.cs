using System;
using System.IO;

namespace CalendarWatch.Engine.Store
{
    /// <summary>
    /// Creates the record's folder and file before SQLite opens it, so that they are the user's alone where the OS
    /// lets us say so: on Unix the folder is made 0700 and the file 0600 (SQLite gives its -wal and -shm files the
    /// database file's mode). On Windows both inherit the folder's ACL: %LOCALAPPDATA% is the user's alone; a
    /// CALENDARWATCH_STORE elsewhere keeps whatever that folder grants. Existing folders and files are left as they are.
    /// </summary>
    internal static class StoreFiles
    {
        public static void Prepare(string path)
        {
            try
            {
                var folder = Path.GetDirectoryName(path);
                if (!string.IsNullOrEmpty(folder) && !Directory.Exists(folder))
                {
                    CreateFolder(folder!);
                }

                if (!File.Exists(path))
                {
                    CreateFile(path);
                }
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is NotSupportedException)
            {
                throw new CalendarWatchException("CalendarWatch.StoreFailed", FailureKind.ResourceUnavailable,
                    $"The channel record {path} could not be created: {ex.Message} Check the folder's permissions, or point {ChannelStoreLocation.EnvironmentVariable} at a file you can write.", ex);
            }
        }

        private static void CreateFolder(string folder)
        {
#if NET
            if (!OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                return;
            }
#endif
            Directory.CreateDirectory(folder);
        }

        private static void CreateFile(string path)
        {
            try
            {
#if NET
                if (!OperatingSystem.IsWindows())
                {
                    using var unix = new FileStream(path, new FileStreamOptions
                    {
                        Mode = FileMode.CreateNew,
                        Access = FileAccess.Write,
                        Share = FileShare.ReadWrite | FileShare.Delete,
                        UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                    });
                    return;
                }
#endif
                using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another process created it first: theirs is as good.
            }
        }
    }
}
