// Package limits bounds the resources an arp command may use, before it
// starts the work: every input file it reads whole, the memory of the work
// it is asked to do, and its running time as far as it can be foreseen.
//
// Files: ReadFile and Open take regular files only (not a directory, a
// device such as /dev/zero or a FIFO, which can be read forever) of at most
// a given size, checked before the first byte is read; a file that grows
// while it is read is cut at the bound, not followed.
//
// Memory: Check compares an estimate of the bytes a piece of work needs
// with the memory available to the process (MemAvailable, or the cgroup's
// limit when lower, or $ARP_MEMORY) and refuses what cannot fit, saying
// how much it would need; Bytes formats sizes for such messages.
//
// Time: Duration formats an estimated running time for the line long
// commands print before they start.
package limits
