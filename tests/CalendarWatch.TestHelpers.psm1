# Helpers shared by the Pester suites and build.ps1 -Task Demo: start and stop the CalendarWatch emulator as a
# separate process, call its admin API, and run a small webhook receiver on loopback.
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

# The NuGet global packages folder, found once by Get-TestPackageFile.
$script:testPackagesFolder = $null

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

    try {
        Invoke-RestMethod @parameters
    }
    catch [System.Net.Http.HttpRequestException] {
        # A reused connection the emulator closed as idle (its IdleTimeout) can reset a request that has not yet
        # reached it: an idempotent GET is sent once more, as an HTTP client would. Anything else fails as it is.
        if ($Method -ne 'GET') { throw }
        Invoke-RestMethod @parameters
    }
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

function ConvertTo-Pem {
    # PEM as Google writes it in key files: 64-character lines joined by LF ('InsertLineBreaks' would give 76 and CRLF).
    [OutputType([string])]
    param(
        [Parameter(Mandatory)][string]$Label,
        [Parameter(Mandatory)][byte[]]$Der
    )

    $base64 = [Convert]::ToBase64String($Der)
    $lines = for ($i = 0; $i -lt $base64.Length; $i += 64) { $base64.Substring($i, [Math]::Min(64, $base64.Length - $i)) }
    "-----BEGIN $Label-----`n" + ($lines -join "`n") + "`n-----END $Label-----`n"
}

function New-EmulatorServiceAccount {
    <#
    .SYNOPSIS
    A service account for an emulator started with -WithAuth: generates an RSA key, registers the public half (with the
    users it may impersonate) and writes a JSON key file like Google's whose token_uri is the emulator's token endpoint.
    Returns ClientEmail, ClientId, KeyPath and PrivateKeyBase64 (PKCS#8, for tests that look for leaked secrets).
    #>
    param(
        [Parameter(Mandatory)][object]$Emulator,
        # Where to write the key file.
        [Parameter(Mandatory)][string]$KeyPath,
        [Parameter(Mandatory)][string]$ClientEmail,
        [string]$ClientId = '104000000000000000042',
        [string[]]$Subject = @()
    )

    $rsa = [System.Security.Cryptography.RSA]::Create(2048)
    try {
        $privateKey = $rsa.ExportPkcs8PrivateKey()
        $publicPem = ConvertTo-Pem -Label 'PUBLIC KEY' -Der $rsa.ExportSubjectPublicKeyInfo()
    }
    finally {
        $rsa.Dispose()
    }

    $null = Invoke-EmulatorAdmin -Emulator $Emulator -Path 'serviceAccounts' -Method 'POST' -Body @{
        clientEmail  = $ClientEmail
        publicKeyPem = $publicPem
        subjects     = @($Subject)
        clientId     = $ClientId
    }

    [ordered]@{
        type           = 'service_account'
        project_id     = 'pester-project'
        private_key_id = 'pester-key-1'
        private_key    = ConvertTo-Pem -Label 'PRIVATE KEY' -Der $privateKey
        client_email   = $ClientEmail
        client_id      = $ClientId
        token_uri      = [Uri]::new($Emulator.BaseUri, 'token').AbsoluteUri
    } | ConvertTo-Json | Set-Content -LiteralPath $KeyPath -Encoding utf8

    [PSCustomObject]@{
        ClientEmail      = $ClientEmail
        ClientId         = $ClientId
        KeyPath          = $KeyPath
        PrivateKeyBase64 = [Convert]::ToBase64String($privateKey)
    }
}

function Get-TestPackageFile {
    <#
    .SYNOPSIS
    The path of a file inside a NuGet package that tests/Tools/Tools.csproj downloads (PackageDownload), e.g. another
    version of a library the module bundles. Restores that project first (quick when nothing is missing).
    #>
    [OutputType([string])]
    param(
        [Parameter(Mandatory)][string]$RepositoryRoot,
        [Parameter(Mandatory)][string]$Id,
        [Parameter(Mandatory)][string]$Version,
        # The file's path inside the package, e.g. lib/net6.0/Google.Apis.Auth.dll
        [Parameter(Mandatory)][string]$Path
    )

    if (-not $script:testPackagesFolder) {
        $toolsProject = [System.IO.Path]::Combine($RepositoryRoot, 'tests', 'Tools', 'Tools.csproj')
        $restoreOutput = & dotnet restore $toolsProject --nologo --verbosity quiet 2>&1
        if ($LASTEXITCODE -ne 0) {
            throw "dotnet restore $toolsProject failed with exit code ${LASTEXITCODE}: $($restoreOutput -join [Environment]::NewLine)"
        }

        $script:testPackagesFolder = ((& dotnet nuget locals global-packages --list) -replace '^global-packages:\s*', '').Trim()
    }

    $file = [System.IO.Path]::Combine($script:testPackagesFolder, $Id.ToLowerInvariant(), $Version, $Path)
    if (-not (Test-Path -LiteralPath $file)) {
        throw "'$file' is missing: add <PackageDownload Include=`"$Id`" Version=`"[$Version]`" /> to tests/Tools/Tools.csproj."
    }

    return $file
}

function Get-PowerShellCommand {
    # How to start another process of the PowerShell running this one: its apphost, or "dotnet <PSHOME>/pwsh.dll" when
    # it runs through the dotnet host (the repository's local tool: dotnet pwsh). The first element is the program.
    [OutputType([string[]])]
    param()

    $processPath = [Environment]::ProcessPath
    if ([System.IO.Path]::GetFileNameWithoutExtension($processPath) -eq 'dotnet') {
        return @($processPath, (Join-Path -Path $PSHOME -ChildPath 'pwsh.dll'))
    }

    return @(, $processPath)
}

function Invoke-PowerShellChild {
    <#
    .SYNOPSIS
    Runs a script file in a new process of this PowerShell (Get-PowerShellCommand), bounded by $Timeout, with the
    environment variables $Environment set in it; returns ExitCode, Output (stdout) and Errors (stderr).
    #>
    param(
        [Parameter(Mandatory)][string]$File,
        [string[]]$ArgumentList = @(),
        [TimeSpan]$Timeout = [TimeSpan]::FromMinutes(2),
        [hashtable]$Environment = @{}
    )

    $powerShell = Get-PowerShellCommand
    $startInfo = [System.Diagnostics.ProcessStartInfo]::new($powerShell[0])
    foreach ($argument in @($powerShell | Select-Object -Skip 1) + @('-NoProfile', '-NonInteractive', '-File', $File) + $ArgumentList) {
        $startInfo.ArgumentList.Add($argument)
    }
    foreach ($name in $Environment.Keys) {
        $startInfo.Environment[$name] = $Environment[$name]
    }

    $startInfo.UseShellExecute = $false
    $startInfo.RedirectStandardOutput = $true
    $startInfo.RedirectStandardError = $true
    $process = [System.Diagnostics.Process]::Start($startInfo)
    try {
        $stdout = $process.StandardOutput.ReadToEndAsync()
        $stderr = $process.StandardError.ReadToEndAsync()
        if (-not $process.WaitForExit([int]$Timeout.TotalMilliseconds)) {
            $process.Kill($true)
            throw "'$File' did not finish within $Timeout."
        }

        $process.WaitForExit()
        [PSCustomObject]@{
            ExitCode = $process.ExitCode
            Output   = $stdout.GetAwaiter().GetResult()
            Errors   = $stderr.GetAwaiter().GetResult()
        }
    }
    finally {
        $process.Dispose()
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
    <#
    .SYNOPSIS
    Waits (signalled per notification, bounded by $Timeout) until the receiver holds at least $Count notifications
    ($Count of those -Where accepts, when given); returns them all.
    #>
    param(
        [Parameter(Mandatory)][object]$Receiver,
        [Parameter(Mandatory)][int]$Count,
        [scriptblock]$Where = { $true },
        [TimeSpan]$Timeout = [TimeSpan]::FromSeconds(30)
    )

    $deadline = [DateTime]::UtcNow + $Timeout
    while (@($Receiver.Notifications.ToArray() | Where-Object -FilterScript $Where).Count -lt $Count) {
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

function Start-TestSession {
    <#
    .SYNOPSIS
    What most suites start with: the built module imported, the emulator and a webhook receiver started, the session
    connected to the emulator. Returns Manifest, Emulator, Receiver and Address (the receiver's /hook).
    #>
    param([Parameter(Mandatory)][string]$RepositoryRoot)

    $manifest = Get-BuiltModuleManifest -RepositoryRoot $RepositoryRoot
    Import-Module -Name $manifest -Force -Global
    $emulator = Start-CalendarEmulator -RepositoryRoot $RepositoryRoot
    $receiver = Start-WebhookReceiver
    Connect-CalendarWatch -Emulator $emulator.BaseUri
    [pscustomobject]@{
        Manifest = $manifest
        Emulator = $emulator
        Receiver = $receiver
        Address  = [Uri]::new($receiver.Address, 'hook')
    }
}

function Stop-TestSession {
    param([object]$Session)
    if ($null -eq $Session) { return }
    Stop-WebhookReceiver -Receiver $Session.Receiver
    Stop-CalendarEmulator -Emulator $Session.Emulator
    Remove-Module -Name CalendarWatch -ErrorAction SilentlyContinue
}

function Set-EmulatorFault {
    <# Replaces the emulator's fault knobs (PUT emulator/v1/faults); @{} clears them. #>
    param([Parameter(Mandatory)][object]$Emulator, [Parameter(Mandatory)][hashtable]$Fault)
    $null = Invoke-EmulatorAdmin -Emulator $Emulator -Path 'faults' -Method 'PUT' -Body $Fault
}

Export-ModuleMember -Function @(
    'Start-TestSession'
    'Stop-TestSession'
    'Set-EmulatorFault'
    'Get-FreeTcpPort'
    'Get-BuiltModuleManifest'
    'Start-CalendarEmulator'
    'Stop-CalendarEmulator'
    'Invoke-EmulatorAdmin'
    'New-EmulatorServiceAccount'
    'Get-TestPackageFile'
    'Get-PowerShellCommand'
    'Invoke-PowerShellChild'
    'New-EmulatorCalendar'
    'Get-EmulatorChannel'
    'Get-EmulatorDelivery'
    'Start-WebhookReceiver'
    'Wait-WebhookNotification'
    'Stop-WebhookReceiver'
)
