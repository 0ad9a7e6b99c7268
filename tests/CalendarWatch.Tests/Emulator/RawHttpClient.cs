using System;
using System.Collections.Generic;
using System.IO;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading;
using System.Threading.Tasks;

namespace CalendarWatch.Tests.Emulator
{
    /// <summary>An HTTP/1.1 answer read off a raw socket.</summary>
    public sealed class RawResponse
    {
        public RawResponse(int status, IReadOnlyDictionary<string, string> headers, byte[] body) { Status = status; Headers = headers; Body = body; }
        public int Status { get; }
        /// <summary>Case-insensitive names.</summary>
        public IReadOnlyDictionary<string, string> Headers { get; }
        public byte[] Body { get; }
        public string Text => Encoding.UTF8.GetString(Body);
        public JsonObject Json => (JsonObject)JsonNode.Parse(Text)!;
    }

    /// <summary>
    /// One TCP connection to the emulator written byte for byte, for what HttpClient will not send: partial requests,
    /// wrong Host headers, bodies that never end. Every wait is bounded by <see cref="EmulatorHarness.WaitTimeout"/> (a hang guard).
    /// </summary>
    public sealed class RawHttpClient : IDisposable
    {
        private readonly TcpClient _tcp;
        private readonly NetworkStream _stream;
        private readonly MemoryStream _pending = new MemoryStream();

        private RawHttpClient(TcpClient tcp) { _tcp = tcp; _stream = tcp.GetStream(); }

        public static async Task<RawHttpClient> ConnectAsync(Uri baseUri)
        {
            var tcp = new TcpClient();
            await tcp.ConnectAsync(baseUri.Host, baseUri.Port).WaitAsync(EmulatorHarness.WaitTimeout);
            return new RawHttpClient(tcp);
        }

        /// <summary>"Host: 127.0.0.1:PORT" for the emulator at <paramref name="baseUri"/>.</summary>
        public static string HostHeader(Uri baseUri) => "Host: " + baseUri.Authority + "\r\n";

        public Task SendAsync(string text) => SendAsync(Encoding.ASCII.GetBytes(text));

        public async Task SendAsync(byte[] bytes) => await _stream.WriteAsync(bytes, 0, bytes.Length).WaitAsync(EmulatorHarness.WaitTimeout);

        /// <summary>Reads one answer (status line, headers, a Content-Length or chunked body, or up to the close).</summary>
        public async Task<RawResponse> ReadResponseAsync()
        {
            using var guard = new CancellationTokenSource(EmulatorHarness.WaitTimeout);
            var statusLine = await ReadLineAsync(guard.Token) ?? throw new IOException("the connection closed before an answer");
            var parts = statusLine.Split(' ');
            int status = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            for (string? line; (line = await ReadLineAsync(guard.Token)) != null && line.Length > 0;)
            {
                int colon = line.IndexOf(':');
                headers[line.Substring(0, colon).Trim()] = line.Substring(colon + 1).Trim();
            }
            var body = new MemoryStream();
            if (headers.TryGetValue("Content-Length", out var length))
            {
                await ReadExactlyAsync(body, long.Parse(length, System.Globalization.CultureInfo.InvariantCulture), guard.Token);
            }
            else if (headers.TryGetValue("Transfer-Encoding", out var te) && te.Equals("chunked", StringComparison.OrdinalIgnoreCase))
            {
                while (true)
                {
                    var size = Convert.ToInt64((await ReadLineAsync(guard.Token))!.Split(';')[0], 16);
                    if (size == 0) { await ReadLineAsync(guard.Token); break; }
                    await ReadExactlyAsync(body, size, guard.Token);
                    await ReadLineAsync(guard.Token);
                }
            }
            else
            {
                body.Write(_pending.ToArray());
                _pending.SetLength(0);
                var buffer = new byte[8192];
                int n;
                while ((n = await _stream.ReadAsync(buffer, guard.Token)) > 0) body.Write(buffer, 0, n);
            }
            return new RawResponse(status, headers, body.ToArray());
        }

        /// <summary>
        /// True once the server has closed (or reset) the connection; anything it still sends is read and dropped.
        /// False if it is still open when the hang guard runs out.
        /// </summary>
        public async Task<bool> WaitForCloseAsync()
        {
            using var guard = new CancellationTokenSource(EmulatorHarness.WaitTimeout);
            var buffer = new byte[8192];
            try
            {
                while (await _stream.ReadAsync(buffer, guard.Token) > 0) { }
                return true;
            }
            catch (OperationCanceledException) { return false; }
            catch (IOException) { return true; }
        }

        private async Task<string?> ReadLineAsync(CancellationToken ct)
        {
            while (true)
            {
                var bytes = _pending.ToArray();
                int lf = Array.IndexOf(bytes, (byte)'\n');
                if (lf >= 0)
                {
                    var line = Encoding.ASCII.GetString(bytes, 0, lf).TrimEnd('\r');
                    _pending.SetLength(0);
                    _pending.Write(bytes, lf + 1, bytes.Length - lf - 1);
                    return line;
                }
                if (!await FillAsync(ct)) return null;
            }
        }

        private async Task ReadExactlyAsync(MemoryStream into, long count, CancellationToken ct)
        {
            while (_pending.Length < count)
                if (!await FillAsync(ct)) throw new IOException("the connection closed inside a body");
            var bytes = _pending.ToArray();
            into.Write(bytes, 0, (int)count);
            _pending.SetLength(0);
            _pending.Write(bytes, (int)count, bytes.Length - (int)count);
        }

        private async Task<bool> FillAsync(CancellationToken ct)
        {
            var buffer = new byte[8192];
            int n = await _stream.ReadAsync(buffer, ct);
            if (n == 0) return false;
            _pending.Seek(0, SeekOrigin.End);
            _pending.Write(buffer, 0, n);
            return true;
        }

        public void Dispose()
        {
            _stream.Dispose();
            _tcp.Dispose();
        }
    }
}
