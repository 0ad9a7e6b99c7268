#if !NET
namespace System.Runtime.CompilerServices
{
    /// <summary>Lets net472 compile init-only setters (the type ships with .NET 5 and later).</summary>
    internal static class IsExternalInit
    {
    }
}
#endif
