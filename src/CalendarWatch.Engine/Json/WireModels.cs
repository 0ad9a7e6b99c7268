using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using System.Text.Json;

namespace CalendarWatch.Engine.Json
{
    /// <summary>Google's Channel resource as it travels on the wire (discovery schema "Channel").</summary>
    internal sealed class ChannelWire
    {
        public string? Kind { get; set; }
        public string? Id { get; set; }
        public string? ResourceId { get; set; }
        public string? ResourceUri { get; set; }
        public string? Token { get; set; }
        public string? Type { get; set; }
        public string? Address { get; set; }

        /// <summary>int64 in the discovery document: Google writes it as a string; read both, write a string.</summary>
        public long? Expiration { get; set; }

        public Dictionary<string, string>? Params { get; set; }
    }

    internal sealed class StopWire
    {
        public string? Id { get; set; }
        public string? ResourceId { get; set; }
        public string? Token { get; set; }
    }

    /// <summary>The <c>error</c> member of Google's error envelope.</summary>
    internal sealed class ErrorBodyWire
    {
        public int? Code { get; set; }
        public string? Message { get; set; }
        public string? Status { get; set; }
        public List<ErrorItemWire>? Errors { get; set; }
    }

    internal sealed class ErrorItemWire
    {
        public string? Domain { get; set; }
        public string? Reason { get; set; }
        public string? Message { get; set; }
        public string? Location { get; set; }
        public string? LocationType { get; set; }
    }

    /// <summary>
    /// The wire types written with <see cref="Utf8JsonWriter"/> and read from a <see cref="JsonDocument"/>: the
    /// serializer's type metadata (even source-generated) is built and compiled on first use, which a fresh PowerShell
    /// paid on its first request; these calls are precompiled in System.Text.Json. The rules are the serializer's:
    /// null members are not written, names match exactly, the last of a repeated member wins, unknown members are
    /// ignored, and a member of the wrong JSON type is a <see cref="JsonException"/>. Two differences, both on bodies
    /// Google does not send: a null item of an error's <c>errors</c> is skipped (the first real item gives the
    /// reason), and a null value in <c>params</c> is left out.
    /// </summary>
    internal static class WireJson
    {
        public static string Write(ChannelWire channel)
        {
            if (channel is null) throw new ArgumentNullException(nameof(channel));
            return WriteObject(writer =>
            {
                WriteIfSet(writer, "kind", channel.Kind);
                WriteIfSet(writer, "id", channel.Id);
                WriteIfSet(writer, "resourceId", channel.ResourceId);
                WriteIfSet(writer, "resourceUri", channel.ResourceUri);
                WriteIfSet(writer, "token", channel.Token);
                WriteIfSet(writer, "type", channel.Type);
                WriteIfSet(writer, "address", channel.Address);
                if (channel.Expiration is long expiration)
                {
                    writer.WriteString("expiration", expiration.ToString(CultureInfo.InvariantCulture));
                }

                if (channel.Params != null)
                {
                    writer.WriteStartObject("params");
                    foreach (var pair in channel.Params)
                    {
                        writer.WriteString(pair.Key, pair.Value);
                    }

                    writer.WriteEndObject();
                }
            });
        }

        public static string Write(StopWire stop)
        {
            if (stop is null) throw new ArgumentNullException(nameof(stop));
            return WriteObject(writer =>
            {
                WriteIfSet(writer, "id", stop.Id);
                WriteIfSet(writer, "resourceId", stop.ResourceId);
                WriteIfSet(writer, "token", stop.Token);
            });
        }

        /// <summary>A channel from a response body; null for the JSON literal null.</summary>
        /// <exception cref="JsonException">The body is not JSON, not an object, or a member has the wrong type.</exception>
        public static ChannelWire? ReadChannel(string json) => ReadBody(json, static root => new ChannelWire
        {
            Kind = String(root, "kind"),
            Id = String(root, "id"),
            ResourceId = String(root, "resourceId"),
            ResourceUri = String(root, "resourceUri"),
            Token = String(root, "token"),
            Type = String(root, "type"),
            Address = String(root, "address"),
            Expiration = Int64(root, "expiration"),
            Params = StringMap(root, "params"),
        });

        /// <summary>The <c>error</c> member of an error body; null when the body or its <c>error</c> is null or absent.</summary>
        /// <exception cref="JsonException">The body is not JSON, not an object, or a member has the wrong type.</exception>
        public static ErrorBodyWire? ReadError(string json) => ReadBody(json, ErrorBody);

        /// <summary>A response body read by <paramref name="read"/> from its root object; null for the JSON literal null.</summary>
        private static T? ReadBody<T>(string json, Func<JsonElement, T?> read)
            where T : class
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Null) return null;
            RequireObject(root, "the body");
            return read(root);
        }

        private static ErrorBodyWire? ErrorBody(JsonElement root)
        {
            if (!root.TryGetProperty("error", out var error) || error.ValueKind == JsonValueKind.Null) return null;
            RequireObject(error, "'error'");
            List<ErrorItemWire>? items = null;
            if (error.TryGetProperty("errors", out var list) && list.ValueKind != JsonValueKind.Null)
            {
                if (list.ValueKind != JsonValueKind.Array) throw new JsonException("'errors' is not an array.");
                items = new List<ErrorItemWire>();
                foreach (var item in list.EnumerateArray())
                {
                    if (item.ValueKind == JsonValueKind.Null) continue;
                    RequireObject(item, "an item of 'errors'");
                    items.Add(new ErrorItemWire
                    {
                        Domain = String(item, "domain"),
                        Reason = String(item, "reason"),
                        Message = String(item, "message"),
                        Location = String(item, "location"),
                        LocationType = String(item, "locationType"),
                    });
                }
            }

            int? code = null;
            if (Int64(error, "code") is long value)
            {
                if (value < int.MinValue || value > int.MaxValue) throw new JsonException("'code' is out of range.");
                code = (int)value;
            }

            return new ErrorBodyWire
            {
                Code = code,
                Message = String(error, "message"),
                Status = String(error, "status"),
                Errors = items,
            };
        }

        private static string WriteObject(Action<Utf8JsonWriter> members)
        {
            using var stream = new MemoryStream();
            using (var writer = new Utf8JsonWriter(stream))
            {
                writer.WriteStartObject();
                members(writer);
                writer.WriteEndObject();
            }

            return Encoding.UTF8.GetString(stream.GetBuffer(), 0, (int)stream.Length);
        }

        private static void WriteIfSet(Utf8JsonWriter writer, string name, string? value)
        {
            if (value != null) writer.WriteString(name, value);
        }

        private static void RequireObject(JsonElement element, string what)
        {
            if (element.ValueKind != JsonValueKind.Object) throw new JsonException($"{what} is a JSON {element.ValueKind}, not an object.");
        }

        private static string? String(JsonElement owner, string name)
        {
            if (!owner.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
            if (value.ValueKind != JsonValueKind.String) throw new JsonException($"'{name}' is a JSON {value.ValueKind}, not a string.");
            return value.GetString();
        }

        /// <summary>A number, or a string holding one (Google writes int64 values as strings).</summary>
        private static long? Int64(JsonElement owner, string name)
        {
            if (!owner.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
            if (value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number)) return number;
            if (value.ValueKind == JsonValueKind.String && long.TryParse(value.GetString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out number)) return number;
            throw new JsonException($"'{name}' is a JSON {value.ValueKind} that is not a whole number.");
        }

        private static Dictionary<string, string>? StringMap(JsonElement owner, string name)
        {
            if (!owner.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
            RequireObject(value, $"'{name}'");
            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var member in value.EnumerateObject())
            {
                // A null value carries nothing (the engine reads no parameter back); any other non-string is an error.
                if (member.Value.ValueKind == JsonValueKind.Null) continue;
                if (member.Value.ValueKind != JsonValueKind.String) throw new JsonException($"'{name}.{member.Name}' is a JSON {member.Value.ValueKind}, not a string.");
                map[member.Name] = member.Value.GetString()!;
            }

            return map;
        }
    }
}
