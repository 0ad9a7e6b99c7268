<#
.SYNOPSIS
One case of Isolation.Tests.ps1, run in a fresh PowerShell process: another copy of a library that CalendarWatch bundles
is loaded the way other modules load theirs (Add-Type -Path, into the default load context), before or after
CalendarWatch, and then both are used as a user would.

.DESCRIPTION
Before: load the other copy, Import-Module CalendarWatch, Connect-CalendarWatch -KeyFile, New-CalendarEventWatch, call
        the other copy.
After:  Import-Module CalendarWatch, connect and watch, load the other copy, call it, connect and watch again.
Nothing is thrown: each step's failure is recorded, and everything is written as JSON to -ResultPath: Errors, Other
(what the call returned and the file version, load context and path of the copy it ran), ChannelIds, and Copies (every
loaded assembly named -Library: load context, file version, path).
#>
param(
    [Parameter(Mandatory)][ValidateSet('Google.Apis.Auth', 'Newtonsoft.Json', 'Polly.Core')][string]$Library,
    [Parameter(Mandatory)][ValidateSet('Before', 'After')][string]$Order,
    # The other copy's files, in load order, joined by [IO.Path]::PathSeparator (-File passes no arrays).
    [Parameter(Mandatory)][string]$LibraryFiles,
    [Parameter(Mandatory)][string]$ModuleManifest,
    [Parameter(Mandatory)][string]$KeyFile,
    [Parameter(Mandatory)][string]$ApiEndpoint,
    [Parameter(Mandatory)][string]$Address,
    [Parameter(Mandatory)][string]$ResultPath
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$result = [ordered]@{
    Errors     = [System.Collections.Generic.List[string]]::new()
    Other      = $null
    ChannelIds = [System.Collections.Generic.List[string]]::new()
    Copies     = @()
}

function Invoke-Step {
    param([Parameter(Mandatory)][string]$Name, [Parameter(Mandatory)][scriptblock]$Action)
    try {
        & $Action
    }
    catch {
        $failure = $_.Exception
        $result.Errors.Add("${Name}: [$($failure.GetType().FullName)] $($failure.Message)")
    }
}

function Get-CopyInfo {
    param([Parameter(Mandatory)][System.Reflection.Assembly]$Assembly)
    [ordered]@{
        Context     = [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext($Assembly).Name
        FileVersion = [System.Diagnostics.FileVersionInfo]::GetVersionInfo($Assembly.Location).FileVersion
        Location    = $Assembly.Location
    }
}

function Add-OtherCopy {
    foreach ($file in $LibraryFiles.Split([System.IO.Path]::PathSeparator)) {
        Add-Type -LiteralPath $file
    }
}

function Invoke-OtherCopy {
    # Something real of each library, through PowerShell's type names as a script module would write it.
    switch ($Library) {
        'Google.Apis.Auth' {
            $credential = [Google.Apis.Auth.OAuth2.GoogleCredential]::FromJson((Get-Content -LiteralPath $KeyFile -Raw))
            $value = $credential.UnderlyingCredential.Id
            $type = [Google.Apis.Auth.OAuth2.GoogleCredential]
        }
        'Newtonsoft.Json' {
            $value = [Newtonsoft.Json.Linq.JObject]::Parse((Get-Content -LiteralPath $KeyFile -Raw))['client_email'].ToString()
            $type = [Newtonsoft.Json.Linq.JObject]
        }
        'Polly.Core' {
            $options = [Polly.Retry.RetryStrategyOptions]::new()
            $options.MaxRetryAttempts = 2
            $options.Delay = [TimeSpan]::Zero
            $pipeline = [Polly.RetryResiliencePipelineBuilderExtensions]::AddRetry([Polly.ResiliencePipelineBuilder]::new(), $options).Build()
            $attempts = [ref]0
            $pipeline.Execute([Action] { $attempts.Value++; if ($attempts.Value -lt 2) { throw 'the first attempt fails' } })
            $value = "attempts: $($attempts.Value)"
            $type = [Polly.ResiliencePipeline]
        }
    }

    $info = Get-CopyInfo -Assembly $type.Assembly
    $info['Result'] = $value
    $result.Other = $info
}

function Invoke-CalendarWatch {
    Invoke-Step 'Connect-CalendarWatch -KeyFile' { Connect-CalendarWatch -KeyFile $KeyFile -ApiEndpoint $ApiEndpoint -ErrorAction Stop }
    Invoke-Step 'New-CalendarEventWatch' {
        $channel = New-CalendarEventWatch -CalendarId 'primary' -Address $Address -ErrorAction Stop
        $result.ChannelIds.Add($channel.Id)
    }
}

if ($Order -eq 'Before') {
    Invoke-Step "Add-Type $Library (the other copy)" { Add-OtherCopy }
    Invoke-Step 'Import-Module CalendarWatch' { Import-Module -Name $ModuleManifest -ErrorAction Stop }
    Invoke-CalendarWatch
    Invoke-Step "$Library (the other copy)" { Invoke-OtherCopy }
}
else {
    Invoke-Step 'Import-Module CalendarWatch' { Import-Module -Name $ModuleManifest -ErrorAction Stop }
    Invoke-CalendarWatch
    Invoke-Step "Add-Type $Library (the other copy)" { Add-OtherCopy }
    Invoke-Step "$Library (the other copy)" { Invoke-OtherCopy }
    Invoke-CalendarWatch
}

$result.Copies = @([System.AppDomain]::CurrentDomain.GetAssemblies() |
    Where-Object { $_.GetName().Name -eq $Library } |
    ForEach-Object { Get-CopyInfo -Assembly $_ })
$result | ConvertTo-Json -Depth 5 | Set-Content -LiteralPath $ResultPath -Encoding utf8
