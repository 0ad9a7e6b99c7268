namespace CalendarWatch.Engine
{
    public static class Placeholder { }
}
