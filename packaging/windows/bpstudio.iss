; Inno Setup 6 script for bpstudio: wraps the PyInstaller one-folder bundle dist\bpstudio\ in a setup.exe.
;
; Built by build_windows.ps1 (beside this file), which passes the version and the flavour:
;     ISCC.exe /DAppVersion=0.1.0 /DFlavour=numpy /DNumericVersion=0.1.0 packaging\windows\bpstudio.iss
; Output: dist\bpstudio-<version>-windows-x64-setup.exe (numpy flavour)
;         dist\bpstudio-<version>-windows-x64-torch-setup.exe (torch flavour)
;
; Installs to {autopf}\bpstudio: Program Files when installing for all users (administrator), or the user's
; own Programs folder when "install for me only" is chosen. A Start menu shortcut, an optional desktop
; shortcut, an uninstaller (Settings > Apps). No file associations, no PATH changes.
; Both flavours share one AppId: installing one replaces the other.

#ifndef AppVersion
  #error Pass the version: ISCC /DAppVersion=X.Y.Z (build_windows.ps1 reads it from bpstudio\__init__.py)
#endif
#ifndef Flavour
  #define Flavour "numpy"
#endif
#if Flavour == "torch"
  #define FlavourSuffix "-torch"
  #define FlavourLabel " (with PyTorch)"
#elif Flavour == "numpy"
  #define FlavourSuffix ""
  #define FlavourLabel ""
#else
  #error Flavour must be numpy or torch
#endif
; VersionInfoVersion must be numeric (up to four dot-separated numbers): 0.1.0, not 0.1.0rc1
#ifndef NumericVersion
  #define NumericVersion AppVersion
#endif

; the repository root, from this script's own folder
#define RepoRoot AddBackslash(SourcePath) + "..\.."
#define BundleDir RepoRoot + "\dist\bpstudio"

#if !FileExists(BundleDir + "\bpstudio.exe")
  #error dist\bpstudio\bpstudio.exe is missing: run PyInstaller with packaging\bpstudio.spec first
#endif

; "x64compatible" appeared in Inno Setup 6.3 (x64 Windows and Arm64 Windows running x64 code); older 6.x: "x64"
#if Ver < EncodeVer(6, 3, 0)
  #define Arch64 "x64"
#else
  #define Arch64 "x64compatible"
#endif

[Setup]
; the AppId identifies bpstudio to the uninstaller and to upgrades: never change it ({{ escapes the brace)
AppId={{51BD7E23-CDC2-45AE-B7CD-4DCBDCD6B741}
AppName=bpstudio
AppVersion={#AppVersion}
AppVerName=bpstudio {#AppVersion}{#FlavourLabel}
AppPublisher=bpstudio contributors
AppCopyright=bpstudio contributors. Released under the MIT License.
AppComments=A desktop backpropagation playground
VersionInfoVersion={#NumericVersion}
VersionInfoProductName=bpstudio
VersionInfoDescription=bpstudio {#AppVersion} setup
DefaultDirName={autopf}\bpstudio
DisableProgramGroupPage=yes
; administrators install for everyone; others may choose "install for me only" (no UAC prompt)
PrivilegesRequired=admin
PrivilegesRequiredOverridesAllowed=dialog commandline
ArchitecturesAllowed={#Arch64}
ArchitecturesInstallIn64BitMode={#Arch64}
; Qt 6 needs Windows 10 1809 or later
MinVersion=10.0.17763
OutputDir={#RepoRoot}\dist
OutputBaseFilename=bpstudio-{#AppVersion}-windows-x64{#FlavourSuffix}-setup
SetupIconFile={#RepoRoot}\resources\icons\bpstudio.ico
UninstallDisplayIcon={app}\bpstudio.exe
UninstallDisplayName=bpstudio {#AppVersion}{#FlavourLabel}
WizardStyle=modern
; the welcome page carries the license notice (Inno Setup 6 hides it unless told otherwise)
DisableWelcomePage=no
Compression=lzma2/max
SolidCompression=yes
ChangesAssociations=no
ChangesEnvironment=no
CloseApplications=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Messages]
WelcomeLabel2=This will install [name/ver] on your computer.%n%nbpstudio is free software, released under the MIT License: you may use, copy, modify and distribute it; it comes WITHOUT ANY WARRANTY.%n%nIt is recommended that you close all other applications before continuing.

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[InstallDelete]
; an upgrade or a change of flavour must not leave the old bundle's libraries beside the new ones
; (PyInstaller 6 keeps everything but the executable in _internal)
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\bpstudio"; Filename: "{app}\bpstudio.exe"; WorkingDir: "{app}"; Comment: "A desktop backpropagation playground"
Name: "{autodesktop}\bpstudio"; Filename: "{app}\bpstudio.exe"; WorkingDir: "{app}"; Comment: "A desktop backpropagation playground"; Tasks: desktopicon

[Run]
Filename: "{app}\bpstudio.exe"; Description: "{cm:LaunchProgram,bpstudio}"; Flags: nowait postinstall skipifsilent

