using System;
using System.Diagnostics;
using System.IO;
using System.Net.Sockets;
using System.Threading.Tasks;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Auth;
using Xunit;

namespace CalendarWatch.Tests.Auth
{
    /// <summary>
    /// -KeyFile given something that is not a key file: a directory, a FIFO, a device, a socket, a huge file. Each is
    /// named for what it is, at once: a FIFO is never opened (open(2) would wait for a writer) and nothing is read
    /// without bound.
    /// </summary>
    public sealed class KeyFileTypeTests : IDisposable
    {
        private readonly string _directory = Path.Combine(Path.GetTempPath(), "cw-keytype-" + Guid.NewGuid().ToString("N"));

        public KeyFileTypeTests() => Directory.CreateDirectory(_directory);

        public void Dispose() => Directory.Delete(_directory, recursive: true);

        [Fact]
        public void ADirectoryIsNamedAsADirectoryNotAsMissing()
        {
            var error = Assert.Throws<CalendarWatchException>(() => ServiceAccountKey.Load(_directory));

            Assert.Equal("CalendarWatch.KeyFileNotAFile", error.ErrorId);
            Assert.Equal(FailureKind.InvalidArgument, error.Kind);
            Assert.Contains($"'{_directory}' is a directory", error.Message);
            Assert.DoesNotContain("does not exist", error.Message);
        }

        [UnixFact]
        public async Task AFifoIsRefusedWithoutOpeningIt()
        {
            var path = Path.Combine(_directory, "key.json");
            Run("mkfifo", path);

            var error = await LoadWithin(path, TimeSpan.FromSeconds(30));

            Assert.Equal("CalendarWatch.KeyFileNotAFile", error.ErrorId);
            Assert.Equal(FailureKind.InvalidArgument, error.Kind);
            Assert.Contains($"'{path}' is a named pipe (FIFO)", error.Message);
        }

        [UnixFact]
        public async Task DevZeroIsRefusedAsADeviceWithoutReadingIt()
        {
            var error = await LoadWithin("/dev/zero", TimeSpan.FromSeconds(30));

            Assert.Equal("CalendarWatch.KeyFileNotAFile", error.ErrorId);
            Assert.Contains("'/dev/zero' is a character device", error.Message);
        }

        [UnixFact]
        public void ASocketIsNamedAsASocket()
        {
            var path = Path.Combine(_directory, "key.sock");
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.Bind(new UnixDomainSocketEndPoint(path));

            var error = Assert.Throws<CalendarWatchException>(() => ServiceAccountKey.Load(path));

            Assert.Equal("CalendarWatch.KeyFileNotAFile", error.ErrorId);
            Assert.Contains($"'{path}' is a socket", error.Message);
        }

        [Fact]
        public void AFileFarLargerThanAKeyIsRefusedBeforeItIsRead()
        {
            var path = Path.Combine(_directory, "huge.json");
            File.WriteAllText(path, "{" + new string(' ', 200 * 1024) + "}");

            var error = Assert.Throws<CalendarWatchException>(() => ServiceAccountKey.Load(path));

            Assert.Equal("CalendarWatch.KeyFileTooLarge", error.ErrorId);
            Assert.Equal(FailureKind.InvalidArgument, error.Kind);
            Assert.Contains(path, error.Message);
            Assert.Contains("64 KiB", error.Message);
        }

        [Fact]
        public void AnEmptyFileIsNamedEmpty()
        {
            var path = Path.Combine(_directory, "empty.json");
            File.WriteAllText(path, string.Empty);

            var error = Assert.Throws<CalendarWatchException>(() => ServiceAccountKey.Load(path));

            Assert.Equal("CalendarWatch.InvalidKeyFile", error.ErrorId);
            Assert.Contains($"'{path}' is empty", error.Message);
        }

        [UnixFact]
        public void ASymbolicLinkToAKeyFileLoadsTheKey()
        {
            using var account = new TestServiceAccount("http://127.0.0.1:9/token");
            var link = Path.Combine(_directory, "current.json");
            File.CreateSymbolicLink(link, account.WriteKeyFile());

            Assert.Equal(account.ClientEmail, ServiceAccountKey.Load(link).ClientEmail);
        }

        /// <summary>
        /// Loads on another thread, bounded: a FIFO opened for reading blocks in open(2) until a writer comes, so on
        /// timeout one comes (and closes at once) to let the thread end, and the test fails.
        /// </summary>
        internal static async Task<CalendarWatchException> LoadWithin(string path, TimeSpan timeout, Func<string, object>? load = null)
        {
            var task = Task.Run(() => (load ?? ServiceAccountKey.Load)(path));
            if (await Task.WhenAny(task, Task.Delay(timeout)) != task)
            {
                if (!path.StartsWith("/dev/", StringComparison.Ordinal))
                {
                    using (new FileStream(path, FileMode.Open, FileAccess.Write))
                    {
                    }
                }

                Assert.Fail($"Loading '{path}' did not return within {timeout}.");
            }

            return await Assert.ThrowsAsync<CalendarWatchException>(() => task);
        }

        internal static void Run(string program, string argument)
        {
            using var process = Process.Start(new ProcessStartInfo(program) { ArgumentList = { argument }, UseShellExecute = false })!;
            process.WaitForExit();
            Assert.Equal(0, process.ExitCode);
        }
    }
}
