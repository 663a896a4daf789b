"""Every test the certifier runs: its stable key, its TestID number, the self-test tool's case name and a
description.

The key (`linux.bash_history`) is what the code, stored reports and reasons use. The number is the report's
`TestID`: the original self-test tool's own number for the tests it had (39-52), and a number from 1000 up for
the tests it lacked, so ours can never collide with one the original assigns later.
"""

from __future__ import annotations

from typing import Final

TESTS: Final[dict[str, tuple[str, str]]] = {
    "image.readable": ("Image Readable", "The image can be downloaded and read to its end."),
    "vhd.cookie": ("VHD Footer Cookie", "The 512-byte VHD footer starts with the cookie 'conectix'."),
    "vhd.checksum": ("VHD Footer Checksum", "The footer checksum is the one's complement of its byte sum."),
    "vhd.disk_type": ("VHD Disk Type", "The VHD is of the fixed type (dynamic and differencing disks are refused)."),
    "vhd.min_size": ("Virtual Disk Size", "The virtual size is at least 20 MiB."),
    "vhd.size_alignment": ("Virtual Disk Size Alignment", "The virtual size is a whole number of MiB."),
    "vhd.file_length": ("VHD File Length", "The file is exactly the virtual size plus the 512-byte footer."),
    "mbr.partition_table": ("Generation 1 Partition Table",
                            "The OS disk boots by BIOS from an MBR partition table (generation 1; GPT is refused)."),
    "mbr.partitions_inside_disk": ("Partitions Inside Disk", "Every partition lies inside the virtual disk."),
    "mbr.first_mib_free": ("Partition Alignment", "Every partition starts at or after 1 MiB (sector 2048)."),
    "disk.first_mib_empty": ("First MiB Empty",
                             "On an image built from the publisher's own base, the first 1 MiB after the MBR "
                             "sector is empty (all zero)."),
    "disk.size_limit": ("Disk Size Limit", "The disk is within the size allowed for its kind (OS or data, Linux "
                                          "or Windows)."),
    "os.detected": ("Operating System", "The OS disk holds a Linux (ext2/3/4, XFS, Btrfs, LVM2) or Windows (NTFS) "
                                        "root file system."),
    "linux.filesystem": ("Root File System", "The root file system can be read offline: ext2/3/4 without features "
                         "the reader does not follow (XFS, Btrfs and unread LVM roots: a warning, tests not run)."),
    "linux.bash_history": ("Bash History", "Bash history files are cleared (none larger than 1 KB; any left "
                                           "is a warning)."),
    "linux.agent_version": ("Linux Agent Version", "The Azure Linux agent (waagent) is installed at the required "
                                                   "version or later."),
    "linux.kernel_parameters": ("Required Kernel Parameters", "The boot loader passes console=ttyS0 and "
                                "earlyprintk=ttyS0 to the kernel (rootdelay=300 is recommended)."),
    "linux.swap": ("Swap Partition on OS Disk", "No swap partition on the OS disk and no swap in /etc/fstab."),
    "linux.root_partition": ("Root Partition on OS Disk", "The OS disk has a single root partition."),
    "linux.openssl": ("OpenSSL Version", "OpenSSL is installed at the required version or later."),
    "linux.python": ("Python Version", "Python is installed (the Linux agent needs it) at version 2.6 or later."),
    "linux.client_alive_interval": ("Client Alive Interval", "sshd's ClientAliveInterval is between 30 and 235 "
                                                             "seconds (180 recommended)."),
    "linux.architecture": ("OS Architecture", "The system's executables are x86-64 ELF binaries."),
    "linux.auto_update": ("Auto Update", "The Linux agent updates itself (AutoUpdate.Enabled=y)."),
    "linux.security_threats": ("Security threats", "No installed package is older than its distribution's fix "
                                                   "for a known high-profile vulnerability (GHOST, Shellshock, "
                                                   "Heartbleed, ...)."),
    "linux.kernel_version": ("SACK vulnerability patch", "The newest installed kernel carries the TCP SACK fixes "
                                                         "(CVE-2019-11477/11478/11479)."),
    "linux.default_credentials": ("Default Credentials", "No account has a usable password and no authorized "
                                                         "SSH key is left in the image."),
    "linux.generalized": ("Generalized Image", "No SSH host keys and no machine id are left behind "
                                               "(waagent -deprovision+user)."),
    "windows.architecture": ("OS Architecture", "The Windows kernel (ntoskrnl.exe) is 64-bit."),
    "windows.bitlocker": ("BitLocker", "The OS volume is not encrypted with BitLocker."),
    "windows.srv_sys": ("WannaCry patch (srv.sys)", "srv.sys is absent or at least the patched version for its OS."),
    "windows.rdp": ("Remote Desktop", "Remote Desktop connections are allowed (fDenyTSConnections = 0)."),
    "windows.offline_limits": ("Online-only Windows tests", "Tests of the original tool that need the running VM "
                               "(user-account and role dependencies, SQL Server) cannot be done offline."),
}

# The original tool's TestIDs (its self-test API sample), then ours from 1000. A number is never reused.
NUMBERS: Final[dict[str, int]] = {
    "linux.agent_version": 39, "linux.kernel_parameters": 40, "linux.swap": 41, "linux.root_partition": 42,
    "linux.openssl": 44, "linux.python": 45, "linux.client_alive_interval": 46, "linux.bash_history": 48,
    "linux.architecture": 49, "linux.security_threats": 50, "linux.auto_update": 51, "linux.kernel_version": 52,
    "image.readable": 1001, "vhd.cookie": 1002, "vhd.checksum": 1003, "vhd.disk_type": 1004,
    "vhd.min_size": 1005, "vhd.size_alignment": 1006, "vhd.file_length": 1007,
    "mbr.partition_table": 1010, "mbr.partitions_inside_disk": 1011, "mbr.first_mib_free": 1012,
    "disk.first_mib_empty": 1020, "disk.size_limit": 1021, "os.detected": 1030, "linux.filesystem": 1031,
    "linux.default_credentials": 1040, "linux.generalized": 1041,
    "windows.architecture": 1100, "windows.bitlocker": 1101, "windows.srv_sys": 1102, "windows.rdp": 1103,
    "windows.offline_limits": 1104,
}
ORIGINAL_MAX: Final = 999  # numbers up to here are the original tool's


def number_of(test_id: str) -> int:
    """The TestID of a test; a test missing from the catalog is a programming error, refused loudly."""
    try:
        return NUMBERS[test_id]
    except KeyError:
        raise KeyError(f"test {test_id!r} has no TestID in image/catalog.py") from None


def name_of(test_id: str) -> str:
    return TESTS.get(test_id, (test_id, ""))[0]


def description_of(test_id: str) -> str:
    return TESTS.get(test_id, ("", ""))[1]
