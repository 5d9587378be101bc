package broker

// clientWriteBuffer is how many bytes of packets queued for one client
// mochi gathers before it writes them to the socket (when more are queued;
// the last one is written at once). mochi's default, 2 KiB, is about 40
// small messages: a subscriber that keeps up at 100,000 msg/s then costs
// about one write system call every 40 messages, and 16 KiB cuts that
// eightfold. Measured with runnel bench --relay at saturation (medians,
// same runs): write calls 10,981 → 1,073 per 3 s of the server, server CPU
// per message 6.4-8.3 µs → 5.7-6.5 µs, throughput no lower. The buffer
// exists only while a burst is written, so an idle client costs nothing
// more. 64 KiB cut the writes further but lowered throughput (the
// subscriber waits longer for each batch). The read buffer stays at
// mochi's 2 KiB: 8 KiB cut the read calls at saturation threefold but not
// the CPU per message measurably, and every held connection would pay
// 6 KiB more.
const clientWriteBuffer = 16 << 10
