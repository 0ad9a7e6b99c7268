using System;
using System.Security.Cryptography;

namespace CalendarWatch.Emulator
{
    /// <summary>
    /// Reads an RSA public key from PEM without ImportFromPem (absent on .NET Framework 4.7.2):
    /// "PUBLIC KEY" (SubjectPublicKeyInfo) or "RSA PUBLIC KEY" (PKCS#1), with a tiny DER reader.
    /// </summary>
    internal static class PemPublicKey
    {
        private const string RsaEncryptionOid = "1.2.840.113549.1.1.1";

        public static RSAParameters Parse(string pem)
        {
            if (string.IsNullOrWhiteSpace(pem)) throw new FormatException("The public key PEM is empty.");
            string label;
            var der = Unarmor(pem, out label);
            switch (label)
            {
                case "PUBLIC KEY": return ReadSubjectPublicKeyInfo(der);
                case "RSA PUBLIC KEY": return ReadRsaPublicKey(der, 0, der.Length);
                default: throw new FormatException("Unsupported PEM label '" + HttpUtil.Clip(label) + "': expected PUBLIC KEY or RSA PUBLIC KEY.");
            }
        }

        private static byte[] Unarmor(string pem, out string label)
        {
            var text = pem.Replace("\\n", "\n"); // keys pasted from JSON strings
            int begin = text.IndexOf("-----BEGIN ", StringComparison.Ordinal);
            if (begin < 0) throw new FormatException("No PEM BEGIN line.");
            int labelStart = begin + 11;
            int labelEnd = text.IndexOf("-----", labelStart, StringComparison.Ordinal);
            if (labelEnd < 0) throw new FormatException("Malformed PEM BEGIN line.");
            label = text.Substring(labelStart, labelEnd - labelStart);
            var endMarker = "-----END " + label + "-----";
            int end = text.IndexOf(endMarker, labelEnd, StringComparison.Ordinal);
            if (end < 0) throw new FormatException("No PEM END line for " + HttpUtil.Clip(label) + ".");
            var body = text.Substring(labelEnd + 5, end - labelEnd - 5);
            var clean = new System.Text.StringBuilder(body.Length);
            foreach (var ch in body) if (!char.IsWhiteSpace(ch)) clean.Append(ch);
            return Convert.FromBase64String(clean.ToString());
        }

        private static RSAParameters ReadSubjectPublicKeyInfo(byte[] der)
        {
            int pos = 0;
            int spkiEnd = Enter(der, ref pos, 0x30, der.Length);
            int algEnd = Enter(der, ref pos, 0x30, spkiEnd);
            int oidLength = Enter(der, ref pos, 0x06, algEnd) - pos;
            var oid = DecodeOid(der, pos, oidLength);
            if (oid != RsaEncryptionOid) throw new FormatException("The key is not an RSA key (algorithm " + oid + ").");
            pos = algEnd; // skip the NULL parameters
            int bitsEnd = Enter(der, ref pos, 0x03, spkiEnd);
            if (der[pos] != 0) throw new FormatException("Unexpected unused bits in the public key BIT STRING.");
            pos++;
            return ReadRsaPublicKey(der, pos, bitsEnd);
        }

        private static RSAParameters ReadRsaPublicKey(byte[] der, int pos, int limit)
        {
            int seqEnd = Enter(der, ref pos, 0x30, limit);
            var modulus = ReadUnsignedInteger(der, ref pos, seqEnd);
            var exponent = ReadUnsignedInteger(der, ref pos, seqEnd);
            return new RSAParameters { Modulus = modulus, Exponent = exponent };
        }

        private static byte[] ReadUnsignedInteger(byte[] der, ref int pos, int limit)
        {
            int end = Enter(der, ref pos, 0x02, limit);
            int start = pos;
            while (start < end - 1 && der[start] == 0) start++; // drop the sign byte(s)
            var value = new byte[end - start];
            Array.Copy(der, start, value, 0, value.Length);
            pos = end;
            return value;
        }

        /// <summary>Reads a tag and length; leaves pos at the contents and returns the end of the contents.</summary>
        private static int Enter(byte[] der, ref int pos, byte expectedTag, int limit)
        {
            if (pos + 2 > limit) throw new FormatException("Truncated DER.");
            if (der[pos] != expectedTag) throw new FormatException("Unexpected DER tag 0x" + der[pos].ToString("x2") + ".");
            pos++;
            int length = der[pos++];
            if (length >= 0x80)
            {
                int count = length & 0x7f;
                if (count == 0 || count > 4 || pos + count > limit) throw new FormatException("Unsupported DER length.");
                length = 0;
                for (int i = 0; i < count; i++) length = (length << 8) | der[pos++];
            }
            if (length < 0 || pos + length > limit) throw new FormatException("DER length past the end.");
            return pos + length;
        }

        private static string DecodeOid(byte[] der, int pos, int length)
        {
            if (length == 0) throw new FormatException("Empty OID.");
            var sb = new System.Text.StringBuilder();
            sb.Append(der[pos] / 40).Append('.').Append(der[pos] % 40);
            long value = 0;
            for (int i = 1; i < length; i++)
            {
                value = (value << 7) | (long)(der[pos + i] & 0x7f);
                if ((der[pos + i] & 0x80) == 0) { sb.Append('.').Append(value); value = 0; }
            }
            return sb.ToString();
        }
    }
}
