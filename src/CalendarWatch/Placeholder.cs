namespace CalendarWatch
{
    internal static class Placeholder { }
}
