using System.Collections.Generic;
using System.Text.Json.Serialization;

namespace CalendarWatch.Engine.Json
{
    /// <summary>Google's Channel resource as it travels on the wire (discovery schema "Channel").</summary>
    internal sealed class ChannelWire
    {
        [JsonPropertyName("kind")] public string? Kind { get; set; }
        [JsonPropertyName("id")] public string? Id { get; set; }
        [JsonPropertyName("resourceId")] public string? ResourceId { get; set; }
        [JsonPropertyName("resourceUri")] public string? ResourceUri { get; set; }
        [JsonPropertyName("token")] public string? Token { get; set; }
        [JsonPropertyName("type")] public string? Type { get; set; }
        [JsonPropertyName("address")] public string? Address { get; set; }

        /// <summary>int64 in the discovery document: Google writes it as a string; read both, write a string.</summary>
        [JsonPropertyName("expiration")]
        [JsonNumberHandling(JsonNumberHandling.AllowReadingFromString | JsonNumberHandling.WriteAsString)]
        public long? Expiration { get; set; }

        [JsonPropertyName("params")] public Dictionary<string, string>? Params { get; set; }
    }

    internal sealed class StopWire
    {
        [JsonPropertyName("id")] public string? Id { get; set; }
        [JsonPropertyName("resourceId")] public string? ResourceId { get; set; }
        [JsonPropertyName("token")] public string? Token { get; set; }
    }

    internal sealed class ErrorEnvelopeWire
    {
        [JsonPropertyName("error")] public ErrorBodyWire? Error { get; set; }
    }

    internal sealed class ErrorBodyWire
    {
        [JsonPropertyName("code")]
        [JsonNumberHandling(JsonNumberHandling.AllowReadingFromString)]
        public int? Code { get; set; }

        [JsonPropertyName("message")] public string? Message { get; set; }
        [JsonPropertyName("status")] public string? Status { get; set; }
        [JsonPropertyName("errors")] public List<ErrorItemWire>? Errors { get; set; }
    }

    internal sealed class ErrorItemWire
    {
        [JsonPropertyName("domain")] public string? Domain { get; set; }
        [JsonPropertyName("reason")] public string? Reason { get; set; }
        [JsonPropertyName("message")] public string? Message { get; set; }
        [JsonPropertyName("location")] public string? Location { get; set; }
        [JsonPropertyName("locationType")] public string? LocationType { get; set; }
    }

    /// <summary>Source-generated (reflection-free) serialization for every wire type; unknown fields are ignored.</summary>
    [JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
    [JsonSerializable(typeof(ChannelWire))]
    [JsonSerializable(typeof(StopWire))]
    [JsonSerializable(typeof(ErrorEnvelopeWire))]
    internal sealed partial class WireJsonContext : JsonSerializerContext
    {
    }
}
