namespace CalendarWatch.Emulator
{
    internal static class Program
    {
        private static int Main(string[] args) { System.Console.WriteLine("hi"); return 0; }
    }
}
