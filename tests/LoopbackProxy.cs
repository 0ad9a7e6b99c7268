#nullable enable
// A small forwarding HTTP proxy on loopback for the proxy tests: it takes absolute-form requests
// ("POST http://127.0.0.1:PORT/token HTTP/1.1"), optionally demands Basic proxy credentials (407 with
// Proxy-Authenticate until they match), forwards each request to its target with "Connection: close" and copies the
// answer back. Plain http targets only (the emulator); no CONNECT. Compiled into the xunit project and, through
// Add-Type, by the Pester helper Start-LoopbackProxy.
using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace CalendarWatch.TestSupport
{
    /// <summary>One request the proxy saw: method, absolute URL, and whether it carried valid proxy credentials.</summary>
    public sealed class ProxiedRequest
    {
        public ProxiedRequest(string method, string url, bool authorized, int status)
        {
            Method = method;
            Url = url;
            Authorized = authorized;
            Status = status;
        }

        public string Method { get; }

        public string Url { get; }

        public bool Authorized { get; }

        /// <summary>407 when the proxy refused it, else what the target answered (0 when it could not be reached).</summary>
        public int Status { get; }

        public override string ToString() => Method + " " + Url + " -> " + Status;
    }

    public sealed class LoopbackProxy : IDisposable
    {
        private readonly TcpListener _listener;
        private readonly string? _expectedAuthorization;
        private readonly CancellationTokenSource _stop = new CancellationTokenSource();
        private readonly ConcurrentQueue<ProxiedRequest> _requests = new ConcurrentQueue<ProxiedRequest>();

        private LoopbackProxy(string? user, string? password)
        {
            _listener = new TcpListener(IPAddress.Loopback, 0);
            _listener.Start();
            Address = new Uri("http://127.0.0.1:" + ((IPEndPoint)_listener.LocalEndpoint).Port + "/");
            if (user != null)
            {
                _expectedAuthorization = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + (password ?? string.Empty)));
            }

            _ = Task.Run(AcceptLoopAsync);
        }

        /// <summary>Starts a proxy on a free loopback port; with <paramref name="user"/>, it demands those Basic credentials.</summary>
        public static LoopbackProxy Start(string? user = null, string? password = null) => new LoopbackProxy(user, password);

        public Uri Address { get; }

        /// <summary>Every request seen, in arrival order.</summary>
        public ProxiedRequest[] Requests => _requests.ToArray();

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
        }

        private async Task AcceptLoopAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpClient client;
                try
                {
                    client = await _listener.AcceptTcpClientAsync().ConfigureAwait(false);
                }
                catch (Exception) when (_stop.IsCancellationRequested)
                {
                    return;
                }
                catch (SocketException)
                {
                    continue;
                }

                _ = Task.Run(() => HandleAsync(client));
            }
        }

        private async Task HandleAsync(TcpClient client)
        {
            using (client)
            {
                try
                {
                    var stream = client.GetStream();
                    var head = await ReadHeadAsync(stream).ConfigureAwait(false);
                    if (head is null)
                    {
                        return;
                    }

                    var lines = head.Split(new[] { "\r\n" }, StringSplitOptions.None);
                    var requestLine = lines[0].Split(' ');
                    var method = requestLine[0];
                    var target = new Uri(requestLine[1]);
                    var headers = new List<KeyValuePair<string, string>>();
                    var contentLength = 0;
                    string? authorization = null;
                    for (var i = 1; i < lines.Length; i++)
                    {
                        var colon = lines[i].IndexOf(':');
                        if (colon <= 0) continue;
                        var name = lines[i].Substring(0, colon).Trim();
                        var value = lines[i].Substring(colon + 1).Trim();
                        if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)) contentLength = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
                        if (name.Equals("Proxy-Authorization", StringComparison.OrdinalIgnoreCase)) authorization = value;
                        if (name.StartsWith("Proxy-", StringComparison.OrdinalIgnoreCase) || name.Equals("Connection", StringComparison.OrdinalIgnoreCase) || name.Equals("Keep-Alive", StringComparison.OrdinalIgnoreCase)) continue;
                        headers.Add(new KeyValuePair<string, string>(name, value));
                    }

                    var body = new byte[contentLength];
                    for (var read = 0; read < contentLength;)
                    {
                        var n = await stream.ReadAsync(body, read, contentLength - read).ConfigureAwait(false);
                        if (n == 0) return;
                        read += n;
                    }

                    var authorized = _expectedAuthorization is null || string.Equals(authorization, _expectedAuthorization, StringComparison.Ordinal);
                    if (!authorized)
                    {
                        _requests.Enqueue(new ProxiedRequest(method, target.AbsoluteUri, false, 407));
                        var refusal = Encoding.ASCII.GetBytes("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"loopback\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                        await stream.WriteAsync(refusal, 0, refusal.Length).ConfigureAwait(false);
                        return;
                    }

                    using var upstream = new TcpClient();
                    await upstream.ConnectAsync(target.Host, target.Port).ConfigureAwait(false);
                    var upstreamStream = upstream.GetStream();
                    var forwarded = new StringBuilder();
                    forwarded.Append(method).Append(' ').Append(target.PathAndQuery).Append(" HTTP/1.1\r\n");
                    foreach (var header in headers)
                    {
                        forwarded.Append(header.Key).Append(": ").Append(header.Value).Append("\r\n");
                    }

                    forwarded.Append("Connection: close\r\n\r\n");
                    var forwardedHead = Encoding.ASCII.GetBytes(forwarded.ToString());
                    await upstreamStream.WriteAsync(forwardedHead, 0, forwardedHead.Length).ConfigureAwait(false);
                    await upstreamStream.WriteAsync(body, 0, body.Length).ConfigureAwait(false);

                    // The answer, as it comes, until the target closes (it was asked to).
                    var answer = new MemoryStream();
                    await upstreamStream.CopyToAsync(answer).ConfigureAwait(false);
                    var bytes = answer.ToArray();
                    var statusLine = Encoding.ASCII.GetString(bytes, 0, Math.Min(bytes.Length, 64)).Split(' ');
                    var status = statusLine.Length > 1 && int.TryParse(statusLine[1], out var code) ? code : 0;
                    _requests.Enqueue(new ProxiedRequest(method, target.AbsoluteUri, true, status));
                    await stream.WriteAsync(bytes, 0, bytes.Length).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException || ex is SocketException || ex is ObjectDisposedException || ex is FormatException)
                {
                    // A client or target that went away: nothing to forward.
                }
            }
        }

        /// <summary>The request line and headers, up to the blank line; null when the client closed first.</summary>
        private static async Task<string?> ReadHeadAsync(Stream stream)
        {
            var buffer = new List<byte>(1024);
            var one = new byte[1];
            while (true)
            {
                var n = await stream.ReadAsync(one, 0, 1).ConfigureAwait(false);
                if (n == 0) return null;
                buffer.Add(one[0]);
                var count = buffer.Count;
                if (count >= 4 && buffer[count - 4] == '\r' && buffer[count - 3] == '\n' && buffer[count - 2] == '\r' && buffer[count - 1] == '\n')
                {
                    return Encoding.ASCII.GetString(buffer.ToArray(), 0, count - 4);
                }
            }
        }
    }
}
