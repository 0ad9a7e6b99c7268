# Helpers shared by the Pester suites and build.ps1 -Task Demo: start and stop the CalendarWatch emulator as a
# separate process, call its admin API, and run a small webhook receiver on loopback.
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

function Get-FreeTcpPort {
    [OutputType([int])]
    param()

    $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    try {
        $listener.Start()
        return ([System.Net.IPEndPoint]$listener.LocalEndpoint).Port
    }
    finally {
        $listener.Stop()
    }
}

function Get-BuiltModuleManifest {
    # The manifest that build.ps1 -Task Build writes: output/CalendarWatch/<ModuleVersion>/CalendarWatch.psd1.
    [OutputType([string])]
    param(
        [Parameter(Mandatory)][string]$RepositoryRoot
    )

    $version = (Import-PowerShellDataFile -LiteralPath (Join-Path -Path $RepositoryRoot -ChildPath 'CalendarWatch.psd1')).ModuleVersion
    $moduleFolder = Join-Path -Path (Join-Path -Path (Join-Path -Path $RepositoryRoot -ChildPath 'output') -ChildPath 'CalendarWatch') -ChildPath $version
    return (Join-Path -Path $moduleFolder -ChildPath 'CalendarWatch.psd1')
}

function Get-EmulatorAssemblyPath {
    # The emulator that build.ps1 -Task Build publishes beside the module.
    [OutputType([string])]
    param(
        [Parameter(Mandatory)][string]$RepositoryRoot
    )

    $path = Join-Path -Path (Join-Path -Path (Join-Path -Path $RepositoryRoot -ChildPath 'output') -ChildPath 'Emulator') -ChildPath 'CalendarWatch.Emulator.dll'
    if (-not (Test-Path -LiteralPath $path)) {
        throw "The emulator is not built: '$path' is missing. Run ./build.ps1 -Task Build first."
    }

    return $path
}

function Start-CalendarEmulator {
    <#
    .SYNOPSIS
    Starts the emulator (no auth unless -WithAuth; http addresses allowed) on a free loopback port and waits for its
    "Listening on" line. Returns an object with Process, BaseUri (ending in /), Port and ErrorOutput (a task that gives
    the emulator's stderr once it has exited).
    #>
    param(
        [Parameter(Mandatory)][string]$RepositoryRoot,
        [TimeSpan]$Timeout = [TimeSpan]::FromSeconds(60),
        # Verify bearer tokens like Google (service accounts registered through the admin API).
        [switch]$WithAuth
    )

    $dll = Get-EmulatorAssemblyPath -RepositoryRoot $RepositoryRoot

    # --port 0: the emulator picks a free port and prints it, so no other process can take it in between, and nothing
    # connects to it before it listens (a connection during HttpListener.Start can make the start fail).
    $startInfo = [System.Diagnostics.ProcessStartInfo]::new('dotnet')
    $startInfo.UseShellExecute = $false
    $startInfo.RedirectStandardOutput = $true
    $startInfo.RedirectStandardError = $true
    $startInfo.CreateNoWindow = $true
    foreach ($argument in @($dll, '--port', '0', '--allow-http')) {
        $startInfo.ArgumentList.Add($argument)
    }
    if (-not $WithAuth) {
        $startInfo.ArgumentList.Add('--no-auth')
    }

    $process = [System.Diagnostics.Process]::Start($startInfo)
    # Both streams are read from the start, so the emulator never blocks on a full pipe.
    $errorOutput = $process.StandardError.ReadToEndAsync()
    $firstLine = $process.StandardOutput.ReadLineAsync()

    # A signalled wait for the emulator to say where it listens (the line, or the end of its output), bounded by $Timeout.
    if (-not $firstLine.Wait($Timeout)) {
        $process.Kill($true)
        $null = $process.WaitForExit(10000)
        throw "The emulator did not print 'Listening on' within $Timeout. $($errorOutput.Result)"
    }

    $line = $firstLine.Result
    if ($null -eq $line -or -not ($line -match 'Listening on\s+(?<uri>https?://\S+)')) {
        if (-not $process.HasExited) { $process.Kill($true) }
        $null = $process.WaitForExit(10000)
        throw "The emulator exited with code $($process.ExitCode) before listening ($line). $($errorOutput.Result)"
    }

    # The rest of its output, drained until it exits.
    $null = $process.StandardOutput.ReadToEndAsync()
    $uriText = $Matches['uri'].TrimEnd('.', ',')
    if (-not $uriText.EndsWith('/')) { $uriText += '/' }
    $baseUri = [Uri]$uriText

    [PSCustomObject]@{
        Process     = $process
        BaseUri     = $baseUri
        Port        = $baseUri.Port
        ErrorOutput = $errorOutput
    }
}

function Stop-CalendarEmulator {
    param(
        [Parameter(Mandatory)][AllowNull()][object]$Emulator
    )

    if ($null -eq $Emulator) { return }
    if (-not $Emulator.Process.HasExited) {
        $Emulator.Process.Kill($true)
    }

    $null = $Emulator.Process.WaitForExit(10000)
    $Emulator.Process.Dispose()
}

function Invoke-EmulatorAdmin {
    <# Calls the emulator's admin API (BaseUri + emulator/v1/...). #>
    param(
        [Parameter(Mandatory)][object]$Emulator,
        [Parameter(Mandatory)][string]$Path,
        [string]$Method = 'GET',
        [object]$Body
    )

    $uri = [Uri]::new($Emulator.BaseUri, 'emulator/v1/' + $Path.TrimStart('/'))
    $parameters = @{ Uri = $uri; Method = $Method }
    if ($PSBoundParameters.ContainsKey('Body')) {
        $parameters['Body'] = ConvertTo-Json -InputObject $Body -Depth 5 -Compress
        $parameters['ContentType'] = 'application/json'
    }

    Invoke-RestMethod @parameters
}

function New-EmulatorCalendar {
    <# Creates a calendar in the emulator. Without auth the caller is user@example.com, so that is the default owner. #>
    param(
        [Parameter(Mandatory)][object]$Emulator,
        [Parameter(Mandatory)][string]$Id,
        [string]$Owner = 'user@example.com',
        # A calendar Google cannot watch (holiday, birthday, other generated calendars).
        [switch]$NotWatchable
    )

    $body = @{ id = $Id; owner = $Owner }
    if ($NotWatchable) {
        $body['watchable'] = $false
    }

    $null = Invoke-EmulatorAdmin -Emulator $Emulator -Path 'calendars' -Method 'POST' -Body $body
}

function Get-EmulatorChannel {
    <# The channels the emulator holds (GET emulator/v1/channels), one by one; wrap the call in @(). #>
    param(
        [Parameter(Mandatory)][object]$Emulator
    )

    $response = Invoke-EmulatorAdmin -Emulator $Emulator -Path 'channels'
    ConvertTo-EmulatorArray -Response $response -Property 'channels'
}

function Get-EmulatorDelivery {
    <# The notifications the emulator has sent (GET emulator/v1/deliveries), one by one; wrap the call in @(). #>
    param(
        [Parameter(Mandatory)][object]$Emulator
    )

    $response = Invoke-EmulatorAdmin -Emulator $Emulator -Path 'deliveries'
    ConvertTo-EmulatorArray -Response $response -Property 'deliveries'
}

function ConvertTo-EmulatorArray {
    # Writes the items of an admin API answer to the pipeline one by one (callers wrap the call in @()). The answer
    # is a JSON array; an object wrapping one ({"channels": [...]} or {"items": [...]}) is accepted too.
    param(
        [AllowNull()][object]$Response,
        [Parameter(Mandatory)][string]$Property
    )

    if ($null -eq $Response) { return }
    foreach ($item in @($Response)) {
        if ($null -eq $item) { continue }
        $wrapped = $false
        foreach ($name in @($Property, 'items')) {
            if ($item -isnot [System.Array] -and $null -ne $item.PSObject.Properties[$name]) {
                foreach ($inner in @($item.$name)) { $inner }
                $wrapped = $true
                break
            }
        }

        if (-not $wrapped) { $item }
    }
}

function Start-WebhookReceiver {
    <#
    .SYNOPSIS
    Starts an HttpListener on a free loopback port that answers 200 to every notification and records its
    X-Goog-* headers. Returns Address, Notifications (a ConcurrentQueue), Signal (released once per notification)
    and what Stop-WebhookReceiver needs.
    #>
    param()

    $listener = $null
    $prefix = $null
    for ($attempt = 1; $null -eq $listener; $attempt++) {
        $port = Get-FreeTcpPort
        $prefix = "http://127.0.0.1:$port/"
        $candidate = [System.Net.HttpListener]::new()
        $candidate.Prefixes.Add($prefix)
        try {
            $candidate.Start()
            $listener = $candidate
        }
        catch {
            # The method call's exception may come wrapped.
            $failure = $_.Exception
            while ($null -ne $failure.InnerException) { $failure = $failure.InnerException }
            $candidate.Close()
            if ($failure -is [System.Net.HttpListenerException] -and $failure.ErrorCode -eq 5) {
                # Windows (HTTP.sys) lets a user who is not an administrator listen on "localhost" prefixes only
                # (ERROR_ACCESS_DENIED, 5, for an IP-address prefix).
                $prefix = "http://localhost:$port/"
                $listener = [System.Net.HttpListener]::new()
                $listener.Prefixes.Add($prefix)
                $listener.Start()
            }
            elseif ($attempt -ge 20 -or -not ($failure -is [System.Net.HttpListenerException] -or $failure -is [System.ArgumentNullException])) {
                throw
            }
            # Otherwise the port was lost: taken between the probe and the bind, or to the managed HttpListener's
            # start race (ArgumentNullException when a connection arrives while it binds). Try another.
        }
    }

    $queue = [System.Collections.Concurrent.ConcurrentQueue[object]]::new()
    $signal = [System.Threading.SemaphoreSlim]::new(0)
    $stopped = [System.Threading.Tasks.TaskCompletionSource[bool]]::new()

    $powershell = [PowerShell]::Create()
    $null = $powershell.AddScript({
        param($Listener, $Queue, $Signal, $Stopped)
        while ($Listener.IsListening) {
            try {
                # Ends on the stop signal too: a GetContext that starts while the listener closes may never complete.
                $next = $Listener.GetContextAsync()
                if ([System.Threading.Tasks.Task]::WaitAny([System.Threading.Tasks.Task[]]@($next, $Stopped)) -ne 0) {
                    break
                }
                $context = $next.GetAwaiter().GetResult()
            }
            catch {
                break
            }

            $headers = $context.Request.Headers
            $Queue.Enqueue([PSCustomObject]@{
                ChannelId     = $headers['X-Goog-Channel-ID']
                MessageNumber = $headers['X-Goog-Message-Number']
                ResourceState = $headers['X-Goog-Resource-State']
                ResourceId    = $headers['X-Goog-Resource-ID']
                ResourceUri   = $headers['X-Goog-Resource-URI']
                ChannelToken  = $headers['X-Goog-Channel-Token']
                ReceivedAt    = [DateTimeOffset]::UtcNow
            })
            $null = $Signal.Release()
            $context.Response.StatusCode = 200
            $context.Response.Close()
        }
    }).AddArgument($listener).AddArgument($queue).AddArgument($signal).AddArgument($stopped.Task)
    $handle = $powershell.BeginInvoke()

    [PSCustomObject]@{
        Address       = [Uri]$prefix
        Notifications = $queue
        Signal        = $signal
        Stopped       = $stopped
        Listener      = $listener
        PowerShell    = $powershell
        Handle        = $handle
    }
}

function Wait-WebhookNotification {
    <# Waits (signalled per notification, bounded by $Timeout) until the receiver holds at least $Count notifications; returns them. #>
    param(
        [Parameter(Mandatory)][object]$Receiver,
        [Parameter(Mandatory)][int]$Count,
        [TimeSpan]$Timeout = [TimeSpan]::FromSeconds(30)
    )

    $deadline = [DateTime]::UtcNow + $Timeout
    while ($Receiver.Notifications.Count -lt $Count) {
        $remaining = $deadline - [DateTime]::UtcNow
        if ($remaining -le [TimeSpan]::Zero -or -not $Receiver.Signal.Wait($remaining)) {
            break
        }
    }

    # One by one to the pipeline: callers wrap the call in @().
    foreach ($notification in $Receiver.Notifications.ToArray()) { $notification }
}

function Stop-WebhookReceiver {
    param(
        [Parameter(Mandatory)][AllowNull()][object]$Receiver
    )

    if ($null -eq $Receiver) { return }
    $null = $Receiver.Stopped.TrySetResult($true)
    try {
        # Close alone: after Stop, the managed HttpListener's Close binds the port again for a moment.
        $Receiver.Listener.Close()
    }
    catch {
        Write-Verbose "Closing the receiver: $_"
    }

    try {
        $null = $Receiver.Handle.AsyncWaitHandle.WaitOne(5000)
        $Receiver.PowerShell.Dispose()
        $Receiver.Signal.Dispose()
    }
    catch {
        Write-Verbose "Disposing the receiver: $_"
    }
}

Export-ModuleMember -Function @(
    'Get-FreeTcpPort'
    'Get-BuiltModuleManifest'
    'Start-CalendarEmulator'
    'Stop-CalendarEmulator'
    'Invoke-EmulatorAdmin'
    'New-EmulatorCalendar'
    'Get-EmulatorChannel'
    'Get-EmulatorDelivery'
    'Start-WebhookReceiver'
    'Wait-WebhookNotification'
    'Stop-WebhookReceiver'
)
