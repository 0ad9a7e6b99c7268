#!/usr/bin/env pwsh
#Requires -Version 7.4
<#
.SYNOPSIS
Builds CalendarWatch's MAML help (CalendarWatch.dll-Help.xml) from docs/help/<Command>.md and the built cmdlets.

.DESCRIPTION
build.ps1 runs this in a PowerShell process of its own after publishing the module. The markdown gives the prose:
SYNOPSIS, DESCRIPTION, EXAMPLES (### Example N: title, a fenced code block, remarks), PARAMETERS (### -Name and its
description; an optional ```yaml block with "Default value: ..." for defaults the code decides at run time), INPUTS,
OUTPUTS, NOTES and RELATED LINKS. Everything else comes from the imported module (Get-Command): parameter sets, syntax,
types, mandatory, positions, pipeline input, aliases, and defaults that the cmdlet's properties start with. Examples
are numbered by their order. Switches are written without a value, so SYNTAX shows [-Unordered], not
[-Unordered <SwitchParameter>].

It stops with one message listing every problem: a cmdlet with no markdown, a markdown file for no cmdlet, a parameter
described that the cmdlet lacks or a parameter without a description, a cmdlet without an example, a default the
markdown states that differs from the built one, or a HelpUri that is not docs/help/<Command>.md on the manifest's
ProjectUri.
#>
[CmdletBinding()]
param(
    # The built module's manifest (output/CalendarWatch/<version>/CalendarWatch.psd1).
    [Parameter(Mandatory)]
    [string]$ModuleManifest,

    # The folder of <Command>.md files (docs/help).
    [Parameter(Mandatory)]
    [string]$SourceFolder,

    # The MAML file to write.
    [Parameter(Mandatory)]
    [string]$OutputPath
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$problems = [System.Collections.Generic.List[string]]::new()

function ConvertFrom-HelpMarkdown {
    # Splits one docs/help/<Command>.md into its sections. Returns a hashtable:
    # Name, Synopsis, Description (paragraphs), Examples (Title, Code, Remarks, SyntaxOnly), Parameters (name -> @{
    # Paragraphs; Default }), Inputs/Outputs (Type, Paragraphs), Notes (paragraphs), Links (Text, Uri).
    param([string]$Path)

    $text = [System.IO.File]::ReadAllText($Path) -replace "`r`n", "`n"
    $lines = $text -split "`n"
    $doc = @{
        Name = $null; Synopsis = @(); Description = @(); Examples = [System.Collections.Generic.List[object]]::new()
        Parameters = [ordered]@{}; Inputs = [System.Collections.Generic.List[object]]::new()
        Outputs = [System.Collections.Generic.List[object]]::new(); Notes = @(); Links = [System.Collections.Generic.List[object]]::new()
    }

    # Group lines: section (##) -> subsection (###) -> body lines.
    $section = $null
    $current = $null
    $blocks = [System.Collections.Generic.List[object]]::new()
    foreach ($line in $lines) {
        if ($line -match '^# (\S.*)$' -and $null -eq $section) { $doc.Name = $Matches[1].Trim(); continue }
        if ($line -match '^## (\S.*)$') {
            $section = $Matches[1].Trim().ToUpperInvariant()
            $current = @{ Section = $section; Heading = $null; Body = [System.Collections.Generic.List[string]]::new() }
            $blocks.Add($current)
            continue
        }
        if ($line -match '^### (\S.*)$' -and $null -ne $section) {
            $current = @{ Section = $section; Heading = $Matches[1].Trim(); Body = [System.Collections.Generic.List[string]]::new() }
            $blocks.Add($current)
            continue
        }
        if ($null -ne $current) { $current.Body.Add($line) }
    }

    foreach ($block in $blocks) {
        $parsed = Split-MarkdownBody -Lines $block.Body
        switch ($block.Section) {
            'SYNOPSIS' { $doc.Synopsis = $parsed.Paragraphs }
            'DESCRIPTION' { $doc.Description = $parsed.Paragraphs }
            'EXAMPLES' {
                if ($null -eq $block.Heading) { break }
                $title = $block.Heading -replace '^Example\s+\d+\s*[:.-]?\s*', ''
                $code = if ($parsed.Fences.Count -gt 0) { $parsed.Fences[0].Text } else { $null }
                $remarks = @($parsed.Paragraphs) + @($parsed.Fences | Select-Object -Skip 1 | ForEach-Object { $_.Text })
                $doc.Examples.Add(@{ Title = $title; Code = $code; Remarks = @($remarks | Where-Object { $_ }); SyntaxOnly = $parsed.SyntaxOnly })
            }
            'PARAMETERS' {
                if ($null -eq $block.Heading) { break }
                $default = $null
                foreach ($fence in $parsed.Fences) {
                    if ($fence.Language -eq 'yaml' -and $fence.Text -match '(?m)^Default value:\s*(.+)$') { $default = $Matches[1].Trim() }
                }
                $doc.Parameters[$block.Heading.TrimStart('-')] = @{ Paragraphs = $parsed.Paragraphs; Default = $default }
            }
            'INPUTS' { if ($block.Heading) { $doc.Inputs.Add(@{ Type = $block.Heading; Paragraphs = $parsed.Paragraphs }) } }
            'OUTPUTS' { if ($block.Heading) { $doc.Outputs.Add(@{ Type = $block.Heading; Paragraphs = $parsed.Paragraphs }) } }
            'NOTES' { $doc.Notes = @($doc.Notes) + @($parsed.Paragraphs) }
            'RELATED LINKS' {
                foreach ($line in $block.Body) {
                    if ($line -match '^\s*\[([^\]]+)\]\(([^)]*)\)') {
                        $uri = $Matches[2].Trim()
                        # A link to another command's markdown is shown by name (Get-Help <name>); web links keep their URI.
                        $doc.Links.Add(@{ Text = $Matches[1].Trim(); Uri = $(if ($uri -match '^https?://') { $uri } else { '' }) })
                    }
                }
            }
        }
    }

    $doc
}

function Split-MarkdownBody {
    # Paragraphs (lines joined, blank lines and list items start a new one; HTML comments dropped), fenced blocks,
    # and whether a <!-- syntax-only --> marker is present.
    param([System.Collections.Generic.List[string]]$Lines)

    $paragraphs = [System.Collections.Generic.List[string]]::new()
    $fences = [System.Collections.Generic.List[object]]::new()
    $syntaxOnly = $false
    $buffer = [System.Collections.Generic.List[string]]::new()
    $fence = $null
    $inComment = $false
    $flush = {
        if ($buffer.Count -gt 0) { $paragraphs.Add(($buffer -join ' ').Trim()); $buffer.Clear() }
    }
    foreach ($line in $Lines) {
        if ($null -ne $fence) {
            if ($line -match '^```\s*$') { $fences.Add(@{ Language = $fence.Language; Text = ($fence.Lines -join "`n") }); $fence = $null }
            else { $fence.Lines.Add($line) }
            continue
        }
        if ($inComment) { if ($line -match '-->') { $inComment = $false }; continue }
        if ($line -match '^```(\w*)\s*$') { & $flush; $fence = @{ Language = $Matches[1]; Lines = [System.Collections.Generic.List[string]]::new() }; continue }
        if ($line -match '<!--\s*syntax-only') { $syntaxOnly = $true }
        if ($line -match '^\s*<!--') { if ($line -notmatch '-->') { $inComment = $true }; continue }
        if ($line -match '^\s*$') { & $flush; continue }
        if ($line -match '^\s*([-*]|\d+\.)\s') { & $flush }
        $buffer.Add($line.Trim())
    }
    & $flush
    @{ Paragraphs = @($paragraphs); Fences = @($fences); SyntaxOnly = $syntaxOnly }
}

function Get-TypeLabel {
    param([type]$Type)
    $underlying = [System.Nullable]::GetUnderlyingType($Type)
    if ($null -ne $underlying) { $Type = $underlying }
    $element = if ($Type.IsArray) { $Type.GetElementType() } else { $Type }
    $label = if ($element.Namespace -eq 'System') { $element.Name } else { $element.FullName }
    if ($Type.IsArray) { "$label[]" } else { $label }
}

function Format-DefaultValue {
    # The value a fresh cmdlet object starts with, as help shows it; $null when that says nothing (null, 0, false, empty).
    param($Value)
    if ($null -eq $Value) { return $null }
    if ($Value -is [System.Management.Automation.SwitchParameter]) { return $(if ($Value.IsPresent) { 'True' } else { $null }) }
    if ($Value -is [bool]) { return $(if ($Value) { 'True' } else { $null }) }
    if ($Value -is [string]) { return $(if ($Value.Length -gt 0) { $Value } else { $null }) }
    if ($Value -is [System.Array]) { return $(if ($Value.Length -gt 0) { ($Value | ForEach-Object { "$_" }) -join ', ' } else { $null }) }
    if ($Value -is [System.ValueType]) {
        if ($Value -eq [System.Activator]::CreateInstance($Value.GetType())) { return $null }
        return [System.Convert]::ToString($Value, [cultureinfo]::InvariantCulture)
    }
    "$Value"
}

$commonParameters = [System.Collections.Generic.HashSet[string]]::new([string[]]([System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters), [StringComparer]::OrdinalIgnoreCase)
$shouldProcessDescriptions = @{
    WhatIf  = 'Shows what would happen if the cmdlet runs (each request it would send). Nothing is sent and nothing is recorded.'
    Confirm = 'Asks for confirmation before each request is sent.'
}

$ModuleManifest = [System.IO.Path]::GetFullPath($ModuleManifest)
$manifestData = Import-PowerShellDataFile -LiteralPath $ModuleManifest
$projectUri = $manifestData.PrivateData.PSData.ProjectUri.TrimEnd('/')
$onlineBase = "$projectUri/blob/main/docs/help/"
$module = Import-Module -Name $ModuleManifest -PassThru -Force
$commands = @(Get-Command -Module $module.Name -CommandType Cmdlet | Sort-Object -Property Name)

$sources = @{}
foreach ($file in Get-ChildItem -LiteralPath $SourceFolder -Filter '*.md' -File) {
    $sources[$file.BaseName] = $file.FullName
}
foreach ($name in $sources.Keys | Sort-Object) {
    if (-not ($commands | Where-Object Name -EQ $name)) {
        $problems.Add("$($sources[$name]) describes '$name', which the module does not export: rename or remove the file.")
    }
}

$settings = [System.Xml.XmlWriterSettings]::new()
$settings.Indent = $true
$settings.Encoding = [System.Text.UTF8Encoding]::new($false)
$null = New-Item -ItemType Directory -Path ([System.IO.Path]::GetDirectoryName([System.IO.Path]::GetFullPath($OutputPath))) -Force
$buffer = [System.IO.MemoryStream]::new()
$writer = [System.Xml.XmlWriter]::Create($buffer, $settings)
$maml = 'http://schemas.microsoft.com/maml/2004/10'
$cmd = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
$dev = 'http://schemas.microsoft.com/maml/dev/2004/10'

function Write-Paragraphs {
    param([string[]]$Paragraphs)
    foreach ($p in @($Paragraphs | Where-Object { $_ })) { $writer.WriteElementString('para', $maml, $p) }
}

function Write-ParameterElement {
    # One <command:parameter>, in a syntax item (with that set's mandatory and position) or in the parameters list.
    param($Parameter, [bool]$Required, [string]$Position, [string[]]$Description, [string]$Default)
    $type = $Parameter.ParameterType
    $isSwitch = $type -eq [System.Management.Automation.SwitchParameter]
    $fromPipeline = @(foreach ($attribute in $Parameter.Attributes) {
            if ($attribute -is [System.Management.Automation.ParameterAttribute]) {
                if ($attribute.ValueFromPipeline) { 'ByValue' }
                if ($attribute.ValueFromPipelineByPropertyName) { 'ByPropertyName' }
            }
        }) | Select-Object -Unique
    $writer.WriteStartElement('command', 'parameter', $cmd)
    $writer.WriteAttributeString('required', $Required.ToString().ToLowerInvariant())
    $writer.WriteAttributeString('variableLength', $type.IsArray.ToString().ToLowerInvariant())
    $writer.WriteAttributeString('globbing', 'false')
    $writer.WriteAttributeString('pipelineInput', $(if ($fromPipeline) { "True ($($fromPipeline -join ', '))" } else { 'False' }))
    $writer.WriteAttributeString('position', $Position)
    $writer.WriteAttributeString('aliases', $(if ($Parameter.Aliases.Count -gt 0) { $Parameter.Aliases -join ', ' } else { 'None' }))
    $writer.WriteElementString('name', $maml, $Parameter.Name)
    $writer.WriteStartElement('description', $maml)
    Write-Paragraphs $Description
    $writer.WriteEndElement()
    if (-not $isSwitch) {
        $writer.WriteStartElement('command', 'parameterValue', $cmd)
        $writer.WriteAttributeString('required', 'true')
        $writer.WriteAttributeString('variableLength', $type.IsArray.ToString().ToLowerInvariant())
        $writer.WriteString((Get-TypeLabel $type))
        $writer.WriteEndElement()
    }
    $writer.WriteStartElement('type', $dev)
    $writer.WriteElementString('name', $maml, (Get-TypeLabel $type))
    $writer.WriteEndElement()
    $writer.WriteElementString('defaultValue', $dev, $Default)
    $writer.WriteEndElement()
}

$writer.WriteStartDocument()
$writer.WriteStartElement('helpItems', 'http://msh')
$writer.WriteAttributeString('schema', 'maml')
foreach ($command in $commands) {
    $name = $command.Name
    if (-not $sources.ContainsKey($name)) {
        $problems.Add("$name has no help source: write $([System.IO.Path]::Combine($SourceFolder, "$name.md")) (for MAML, convert it with help-convert.ps1).")
        continue
    }
    $doc = ConvertFrom-HelpMarkdown -Path $sources[$name]
    $file = $sources[$name]
    if ($doc.Name -ne $name) { $problems.Add("${file}: the title is '# $($doc.Name)', not '# $name'.") }
    if (@($doc.Synopsis).Count -eq 0) { $problems.Add("${file}: SYNOPSIS is empty.") }
    if (@($doc.Description).Count -eq 0) { $problems.Add("${file}: DESCRIPTION is empty.") }
    if ($doc.Examples.Count -eq 0) { $problems.Add("${file}: no example (### Example 1: ... under ## EXAMPLES).") }
    foreach ($example in $doc.Examples) {
        if (-not $example.Code) { $problems.Add("${file}: example '$($example.Title)' has no fenced code block.") }
    }
    $expectedUri = "$onlineBase$name.md"
    if ($command.HelpUri -ne $expectedUri) {
        $problems.Add("$name's HelpUri is '$($command.HelpUri)'; set HelpUri = HelpLinks.Base + `"$name.md`" on its [Cmdlet] attribute ($expectedUri).")
    }

    # Parameters in declaration order, the ShouldProcess pair last; common parameters are Get-Help's own.
    $parameters = [ordered]@{}
    foreach ($parameter in $command.Parameters.Values) {
        if ($commonParameters.Contains($parameter.Name) -and $parameter.Name -notin @('WhatIf', 'Confirm')) { continue }
        if ($parameter.Name -in @('WhatIf', 'Confirm')) { continue }
        $parameters[$parameter.Name] = $parameter
    }
    foreach ($shouldProcess in @('WhatIf', 'Confirm')) {
        if ($command.Parameters.ContainsKey($shouldProcess)) { $parameters[$shouldProcess] = $command.Parameters[$shouldProcess] }
    }
    foreach ($described in $doc.Parameters.Keys) {
        if (-not $parameters.Contains($described)) { $problems.Add("${file}: describes -$described, which $name does not have: remove or rename it.") }
    }

    $instance = $null
    try { $instance = [System.Activator]::CreateInstance($command.ImplementingType) } catch { $instance = $null }
    $descriptions = @{}
    $defaults = @{}
    foreach ($parameterName in $parameters.Keys) {
        $source = $doc.Parameters[$parameterName]
        $paragraphs = if ($null -ne $source -and @($source.Paragraphs).Count -gt 0) { $source.Paragraphs } elseif ($shouldProcessDescriptions.ContainsKey($parameterName)) { , $shouldProcessDescriptions[$parameterName] } else { @() }
        if (@($paragraphs).Count -eq 0) { $problems.Add("${file}: -$parameterName has no description (### -$parameterName under ## PARAMETERS).") }
        $descriptions[$parameterName] = $paragraphs
        $built = $null
        if ($null -ne $instance -and $parameterName -notin @('WhatIf', 'Confirm')) {
            $property = $command.ImplementingType.GetProperty($parameterName)
            if ($null -ne $property) { $built = Format-DefaultValue $property.GetValue($instance) }
        }
        $stated = if ($null -ne $source) { $source.Default } else { $null }
        if ($null -ne $built -and $null -ne $stated -and $built -ne $stated) {
            $problems.Add("${file}: -$parameterName states 'Default value: $stated' but the cmdlet starts with '$built': remove the line (the build shows the real one).")
        }
        $isSwitch = $parameters[$parameterName].ParameterType -eq [System.Management.Automation.SwitchParameter]
        $defaults[$parameterName] = if ($null -ne $built) { $built } elseif ($null -ne $stated) { $stated } elseif ($isSwitch) { 'False' } else { 'None' }
    }

    $writer.WriteStartElement('command', 'command', $cmd)
    $writer.WriteAttributeString('xmlns', 'maml', $null, $maml)
    $writer.WriteAttributeString('xmlns', 'dev', $null, $dev)
    $writer.WriteStartElement('command', 'details', $cmd)
    $writer.WriteElementString('command', 'name', $cmd, $name)
    $writer.WriteElementString('command', 'verb', $cmd, $command.Verb)
    $writer.WriteElementString('command', 'noun', $cmd, $command.Noun)
    $writer.WriteStartElement('description', $maml)
    Write-Paragraphs $doc.Synopsis
    $writer.WriteEndElement()
    $writer.WriteEndElement()
    $writer.WriteStartElement('description', $maml)
    Write-Paragraphs $doc.Description
    $writer.WriteEndElement()

    # SYNTAX: one item per parameter set, the default set first; positional parameters by position, then mandatory
    # ones, then the rest, the ShouldProcess pair last.
    $writer.WriteStartElement('command', 'syntax', $cmd)
    $sets = @($command.ParameterSets | Sort-Object -Property @{ Expression = { -not $_.IsDefault } }, Name)
    foreach ($set in $sets) {
        $writer.WriteStartElement('command', 'syntaxItem', $cmd)
        $writer.WriteElementString('name', $maml, $name)
        $inSet = @($set.Parameters | Where-Object { $parameters.Contains($_.Name) })
        $ordered = @($inSet | Sort-Object -Stable -Property `
                @{ Expression = { $_.Name -in @('WhatIf', 'Confirm') } },
                @{ Expression = { if ($_.Position -ge 0) { 0 } elseif ($_.IsMandatory) { 1 } else { 2 } } },
                @{ Expression = { if ($_.Position -ge 0) { $_.Position } else { 0 } } })
        foreach ($parameter in $ordered) {
            Write-ParameterElement -Parameter $parameters[$parameter.Name] -Required $parameter.IsMandatory `
                -Position $(if ($parameter.Position -ge 0) { "$($parameter.Position)" } else { 'named' }) `
                -Description $descriptions[$parameter.Name] -Default $defaults[$parameter.Name]
        }
        $writer.WriteEndElement()
    }
    $writer.WriteEndElement()

    # PARAMETERS: required when mandatory in every set that has it; a position only when every set agrees.
    $writer.WriteStartElement('command', 'parameters', $cmd)
    foreach ($parameterName in $parameters.Keys) {
        $perSet = @($command.ParameterSets | ForEach-Object { $_.Parameters | Where-Object Name -EQ $parameterName })
        $required = @($perSet | Where-Object { -not $_.IsMandatory }).Count -eq 0 -and $perSet.Count -gt 0
        $positions = @($perSet | ForEach-Object Position | Select-Object -Unique)
        $position = if ($positions.Count -eq 1 -and $positions[0] -ge 0) { "$($positions[0])" } else { 'named' }
        Write-ParameterElement -Parameter $parameters[$parameterName] -Required $required -Position $position `
            -Description $descriptions[$parameterName] -Default $defaults[$parameterName]
    }
    $writer.WriteEndElement()

    foreach ($kind in @(@{ List = 'inputTypes'; Item = 'inputType'; Entries = $doc.Inputs }, @{ List = 'returnValues'; Item = 'returnValue'; Entries = $doc.Outputs })) {
        $writer.WriteStartElement('command', $kind.List, $cmd)
        foreach ($entry in $kind.Entries) {
            $writer.WriteStartElement('command', $kind.Item, $cmd)
            $writer.WriteStartElement('type', $dev)
            $writer.WriteElementString('name', $maml, $entry.Type)
            $writer.WriteEndElement()
            $writer.WriteStartElement('description', $maml)
            Write-Paragraphs $entry.Paragraphs
            $writer.WriteEndElement()
            $writer.WriteEndElement()
        }
        $writer.WriteEndElement()
    }

    $writer.WriteStartElement('alertSet', $maml)
    $writer.WriteStartElement('alert', $maml)
    Write-Paragraphs $doc.Notes
    $writer.WriteEndElement()
    $writer.WriteEndElement()

    $writer.WriteStartElement('command', 'examples', $cmd)
    $number = 0
    foreach ($example in $doc.Examples) {
        $number++
        $writer.WriteStartElement('command', 'example', $cmd)
        $writer.WriteElementString('title', $maml, $(if ($example.Title) { "Example ${number}: $($example.Title)" } else { "Example $number" }))
        $writer.WriteElementString('code', $dev, [string]$example.Code)
        $writer.WriteStartElement('remarks', $dev)
        Write-Paragraphs $example.Remarks
        $writer.WriteEndElement()
        $writer.WriteEndElement()
    }
    $writer.WriteEndElement()

    # The first link with a URI is Get-Help -Online's target: the markdown on the project's site.
    $writer.WriteStartElement('command', 'relatedLinks', $cmd)
    foreach ($link in @(@{ Text = 'Online Version:'; Uri = $expectedUri }) + @($doc.Links)) {
        $writer.WriteStartElement('navigationLink', $maml)
        $writer.WriteElementString('linkText', $maml, $link.Text)
        $writer.WriteElementString('uri', $maml, $link.Uri)
        $writer.WriteEndElement()
    }
    $writer.WriteEndElement()
    $writer.WriteEndElement()
}
$writer.WriteEndElement()
$writer.WriteEndDocument()
$writer.Flush()

if ($problems.Count -gt 0) {
    throw "The help was not built:`n  " + ($problems -join "`n  ")
}

[System.IO.File]::WriteAllBytes($OutputPath, $buffer.ToArray())
Write-Host "Help: $($commands.Count) commands from $SourceFolder -> $OutputPath"
