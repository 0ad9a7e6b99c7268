using System;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;

namespace CalendarWatch.Engine.Auth
{
    /// <summary>
    /// Reads a credential file (a service account key, an ADC file): a regular file of at most
    /// <see cref="MaxBytes"/>. A directory, FIFO, device or socket is named for what it is and never opened: opening a
    /// FIFO waits for a writer, and <c>/dev/zero</c> never ends. Nothing is read without bound.
    /// </summary>
    internal static class CredentialFile
    {
        /// <summary>The most a credential file may hold: a service account key is about 2.3 KB.</summary>
        public const int MaxBytes = 64 * 1024;

        /// <summary>The text of <paramref name="path"/> (UTF-8, BOM allowed), or null and the reason in <paramref name="problem"/>.</summary>
        public static string? TryRead(string path, out CredentialFileProblem? problem)
        {
            problem = Check(path);
            if (problem != null) return null;

            try
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
                var buffer = new byte[MaxBytes + 1];
                var count = 0;
                int read;
                while (count < buffer.Length && (read = stream.Read(buffer, count, buffer.Length - count)) > 0)
                {
                    count += read;
                }

                if (count > MaxBytes)
                {
                    // It grew after the size check, or its size was not what it holds (a /proc file): still not a key.
                    problem = TooLarge(null);
                    return null;
                }

                if (count == 0)
                {
                    problem = new CredentialFileProblem("CalendarWatch.InvalidKeyFile", FailureKind.InvalidArgument, "is empty.");
                    return null;
                }

                using var reader = new StreamReader(new MemoryStream(buffer, 0, count), new UTF8Encoding(false), detectEncodingFromByteOrderMarks: true);
                return reader.ReadToEnd();
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is System.Security.SecurityException || ex is NotSupportedException)
            {
                problem = new CredentialFileProblem("CalendarWatch.KeyFileUnreadable", FailureKind.PermissionDenied,
                    $"cannot be read ({ex.GetType().Name}: {ex.Message}). Check that this account may read it.");
                return null;
            }
        }

        /// <summary>What is wrong with <paramref name="path"/> as a credential file before it is opened; null when nothing.</summary>
        private static CredentialFileProblem? Check(string path)
        {
            if (Directory.Exists(path))
            {
                return NotAFile("is a directory, not a file.");
            }

            if (!File.Exists(path))
            {
                return new CredentialFileProblem("CalendarWatch.KeyFileNotFound", FailureKind.ObjectNotFound, "does not exist.");
            }

            var type = FileTypeOf(path);
            switch (type)
            {
                case FileType.Fifo:
                    return NotAFile("is a named pipe (FIFO), not a file: reading it would wait for whatever writes to it.");
                case FileType.CharacterDevice:
                    return NotAFile("is a character device (such as /dev/zero or a terminal), not a file.");
                case FileType.BlockDevice:
                    return NotAFile("is a block device (a disk), not a file.");
                case FileType.Socket:
                    return NotAFile("is a socket, not a file.");
                case FileType.Other:
                    return NotAFile("is not a regular file.");
            }

            long length;
            try
            {
                length = new FileInfo(path).Length;
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is System.Security.SecurityException)
            {
                return new CredentialFileProblem("CalendarWatch.KeyFileUnreadable", FailureKind.PermissionDenied,
                    $"cannot be read ({ex.GetType().Name}: {ex.Message}). Check that this account may read it.");
            }

            if (length > MaxBytes)
            {
                return TooLarge(length);
            }

            if (length == 0)
            {
                // A FIFO, device or socket reports no size either: where the file type is unknown, never open one.
                return type == FileType.Regular
                    ? new CredentialFileProblem("CalendarWatch.InvalidKeyFile", FailureKind.InvalidArgument, "is empty.")
                    : NotAFile("is empty, or is not a regular file (a FIFO, device or socket).");
            }

            return null;
        }

        private static CredentialFileProblem NotAFile(string text) =>
            new CredentialFileProblem("CalendarWatch.KeyFileNotAFile", FailureKind.InvalidArgument, text);

        private static CredentialFileProblem TooLarge(long? length) =>
            new CredentialFileProblem("CalendarWatch.KeyFileTooLarge", FailureKind.InvalidArgument,
                (length is long bytes ? $"holds {bytes.ToString("N0", CultureInfo.InvariantCulture)} bytes" : "holds more than 64 KiB") +
                $"; a credential file is a few KB, and at most {MaxBytes / 1024} KiB is read.");

        private enum FileType
        {
            Unknown,
            Regular,
            Fifo,
            CharacterDevice,
            BlockDevice,
            Socket,
            Other,
        }

        /// <summary>
        /// The file type, following symbolic links. .NET's own API reports FIFOs, devices and sockets as Normal files
        /// of length 0, so on Unix this asks stat(2) through the runtime's own System.Native library (its FileStatus
        /// has had Mode at offset 4, with these S_IF* values, since .NET Core 1.0). Unknown where that is unavailable.
        /// </summary>
        private static FileType FileTypeOf(string path)
        {
#if NET
            if (!OperatingSystem.IsWindows())
            {
                try
                {
                    if (SystemNative.Stat(path, out var status) != 0) return FileType.Unknown;
                    switch (status.Mode & SystemNative.S_IFMT)
                    {
                        case SystemNative.S_IFREG: return FileType.Regular;
                        case SystemNative.S_IFIFO: return FileType.Fifo;
                        case SystemNative.S_IFCHR: return FileType.CharacterDevice;
                        case SystemNative.S_IFBLK: return FileType.BlockDevice;
                        case SystemNative.S_IFSOCK: return FileType.Socket;
                        default: return FileType.Other;
                    }
                }
                catch (Exception ex) when (ex is DllNotFoundException || ex is EntryPointNotFoundException)
                {
                    return FileType.Unknown;
                }
            }

            return FileType.Regular;
#else
            // Windows PowerShell 5.1: paths name files, directories or (\\.\ paths) devices.
            return (File.GetAttributes(path) & FileAttributes.Device) != 0 ? FileType.CharacterDevice : FileType.Regular;
#endif
        }

#if NET
        private static class SystemNative
        {
            public const int S_IFMT = 0xF000;
            public const int S_IFIFO = 0x1000;
            public const int S_IFCHR = 0x2000;
            public const int S_IFBLK = 0x6000;
            public const int S_IFREG = 0x8000;
            public const int S_IFSOCK = 0xC000;

            [DllImport("libSystem.Native", EntryPoint = "SystemNative_Stat", SetLastError = true)]
            public static extern int Stat([MarshalAs(UnmanagedType.LPUTF8Str)] string path, out FileStatus output);

            /// <summary>The leading fields of System.Native's FileStatus, with room for the rest (about 120 bytes today).</summary>
            [StructLayout(LayoutKind.Sequential, Size = 512)]
            public struct FileStatus
            {
                public int Flags;
                public int Mode;
            }
        }
#endif
    }

    /// <summary>Why a credential file was not read: an ErrorId and kind for a key file, and what the path is.</summary>
    internal sealed class CredentialFileProblem
    {
        public CredentialFileProblem(string errorId, FailureKind kind, string text)
        {
            ErrorId = errorId;
            Kind = kind;
            Text = text;
        }

        /// <summary>The ErrorId for -KeyFile, e.g. <c>CalendarWatch.KeyFileNotAFile</c>.</summary>
        public string ErrorId { get; }

        public FailureKind Kind { get; }

        /// <summary>What the path is, to follow its name: "is a directory, not a file."</summary>
        public string Text { get; }
    }
}
