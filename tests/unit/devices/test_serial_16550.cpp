// Serial16550: transmit reaches the console, receive takes console input,
// and the registers a guest driver probes (DLAB, LSR, IIR/FCR, MCR, MSR,
// scratch) read back as a 16550 does.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "devices/console.hpp"
#include "devices/io_bus.hpp"
#include "devices/serial_16550.hpp"

using hv::dev::Console;
using hv::dev::Serial16550;

namespace {

constexpr uint16_t kThr = 0, kIer = 1, kIir = 2, kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6, kScr = 7;

// As an int, so a failed CHECK prints a number, not a character.
int reg(Serial16550& s, uint16_t offset) { return s.read(offset); }

void send(Serial16550& s, const std::string& text) {
    for (char c : text) s.write(kThr, static_cast<uint8_t>(c));
}

} // namespace

TEST_CASE("serial: THR writes reach the console", "[devices][serial]") {
    Console con;
    Serial16550 s(con);
    send(s, "hello\r\n");
    s.write(kThr, 0x00);
    s.write(kThr, 0xff);
    CHECK(con.history() == std::string("hello\r\n\0\xff", 9));
}

TEST_CASE("serial: THR writes go to console listeners as they happen", "[devices][serial]") {
    Console con;
    Serial16550 s(con);
    std::string seen;
    con.subscribe([&](std::string_view b) { seen.append(b); });
    send(s, "ab");
    CHECK(seen == "ab");
}

TEST_CASE("serial: loopback mode swallows output", "[devices][serial]") {
    Console con;
    Serial16550 s(con);
    send(s, "a");
    s.write(kMcr, 0x10); // LOOP
    send(s, "hidden");
    s.write(kMcr, 0x0b); // DTR | RTS | OUT2, loopback off
    send(s, "b");
    CHECK(con.history() == "ab");
}

TEST_CASE("serial: DLAB switches offsets 0 and 1 to DLL and DLM", "[devices][serial]") {
    Console con;
    Serial16550 s(con);
    CHECK(reg(s, kLcr) == 0x03); // 8N1 after reset
    // The BIOS-like default divisor: 9600 baud.
    s.write(kLcr, 0x83);
    CHECK(reg(s, kLcr) == 0x83);
    CHECK(reg(s, kThr) == 0x0c);
    CHECK(reg(s, kIer) == 0x00);
    s.write(kThr, 0x01); // 115200 baud
    s.write(kIer, 0x02);
    CHECK(reg(s, kThr) == 0x01);
    CHECK(reg(s, kIer) == 0x02);
    CHECK(con.history().empty()); // the DLL write did not transmit

    con.push_input("q");
    CHECK(reg(s, kThr) == 0x01); // DLL, not the receive buffer
    CHECK(con.has_input());

    s.write(kLcr, 0x03);
    CHECK(reg(s, kIer) == 0x00); // IER untouched by the DLM write
    s.write(kIer, 0xff);
    CHECK(reg(s, kIer) == 0x0f); // only the four defined bits
    CHECK(reg(s, kThr) == 'q');
    send(s, "x");
    CHECK(con.history() == "x");

    s.write(kLcr, 0x80);
    CHECK(reg(s, kThr) == 0x01); // divisor kept across DLAB toggles
    CHECK(reg(s, kIer) == 0x02);
}

TEST_CASE("serial: LSR says THR empty always and data ready iff input is pending", "[devices][serial]") {
    Console con;
    Serial16550 s(con);
    CHECK(reg(s, kLsr) == 0x60);
    send(s, "output does not fill anything");
    CHECK(reg(s, kLsr) == 0x60);
    REQUIRE(con.push_input("ab") == 2);
    CHECK(reg(s, kLsr) == 0x61);
    CHECK(reg(s, kThr) == 'a');
    CHECK(reg(s, kLsr) == 0x61);
    CHECK(reg(s, kThr) == 'b');
    CHECK(reg(s, kLsr) == 0x60);
    // Reading an empty receive buffer gives 0 and changes nothing.
    CHECK(reg(s, kThr) == 0x00);
    CHECK(reg(s, kLsr) == 0x60);
    // LSR is read-only.
    s.write(kLsr, 0x00);
    CHECK(reg(s, kLsr) == 0x60);
}

TEST_CASE("serial: reading RBR takes console input in order", "[devices][serial]") {
    Console con;
    Serial16550 s(con);
    REQUIRE(con.push_input(std::string("x\0\xfe", 3)) == 3);
    CHECK(reg(s, kThr) == 'x');
    CHECK(reg(s, kThr) == 0x00);
    CHECK(reg(s, kThr) == 0xfe);
    CHECK_FALSE(con.has_input());
    uint8_t b = 0x55;
    CHECK(con.read_input(&b, 1) == 0u);
}

TEST_CASE("serial: scratch register holds any value", "[devices][serial]") {
    Console con;
    Serial16550 s(con);
    CHECK(reg(s, kScr) == 0x00);
    for (int v : {0x55, 0xaa, 0x00, 0xff}) {
        s.write(kScr, static_cast<uint8_t>(v));
        CHECK(reg(s, kScr) == v);
    }
    CHECK(con.history().empty());
}

TEST_CASE("serial: IIR reports no interrupt, with FIFO bits once FCR enables them", "[devices][serial]") {
    Console con;
    Serial16550 s(con);
    CHECK(reg(s, kIir) == 0x01);
    s.write(kIir, 0x07); // enable + clear FIFOs
    CHECK(reg(s, kIir) == 0xc1);
    s.write(kIir, 0x00);
    CHECK(reg(s, kIir) == 0x01);
}

TEST_CASE("serial: MCR keeps its five bits; MSR outside loopback", "[devices][serial]") {
    Console con;
    Serial16550 s(con);
    CHECK(reg(s, kMcr) == 0x08); // OUT2 after reset
    s.write(kMcr, 0xff);
    CHECK(reg(s, kMcr) == 0x1f);
    s.write(kMcr, 0x03);
    CHECK(reg(s, kMcr) == 0x03);
    CHECK(reg(s, kMsr) == 0xb0); // DCD, DSR, CTS
    s.write(kMsr, 0x00);          // read-only
    CHECK(reg(s, kMsr) == 0xb0);
}

TEST_CASE("serial: MSR in loopback mirrors MCR (OUT1, OUT2, all, none)", "[devices][serial]") {
    Console con;
    Serial16550 s(con);
    s.write(kMcr, 0x10 | 0x08); // LOOP | OUT2 -> DCD
    CHECK(reg(s, kMsr) == 0x80);
    s.write(kMcr, 0x10 | 0x04); // LOOP | OUT1 -> RI
    CHECK(reg(s, kMsr) == 0x40);
    s.write(kMcr, 0x10);
    CHECK(reg(s, kMsr) == 0x00);
    s.write(kMcr, 0x1f);
    CHECK(reg(s, kMsr) == 0xf0);
    s.write(kMcr, 0x08); // loopback off again
    CHECK(reg(s, kMsr) == 0xb0);
}

// Regression (libhv/devices/serial_16550.cpp, kMsr case, fixed): the loopback MSR
// is (mcr & 0x0f) << 4, which puts DTR on CTS and RTS on DSR. A 16550 in
// loopback connects RTS->CTS (bit 4) and DTR->DSR (bit 5) (QEMU's
// hw/char/serial.c does the same). The usual presence probe (Linux 8250
// autoconfig on ports without UPF_SKIP_TEST, Xen's ns16550
// check_existence) writes MCR = LOOP|OUT2|RTS (0x1a) and requires
// MSR & 0xf0 == 0x90 (DCD|CTS); here it reads 0xa0: "no UART".
TEST_CASE("serial: MSR in loopback maps RTS to CTS and DTR to DSR", "[devices][serial][regression]") {
    Console con;
    Serial16550 s(con);
    s.write(kMcr, 0x10 | 0x02); // LOOP | RTS
    CHECK(reg(s, kMsr) == 0x10); // CTS
    s.write(kMcr, 0x10 | 0x01); // LOOP | DTR
    CHECK(reg(s, kMsr) == 0x20); // DSR
    // The presence probe.
    s.write(kMcr, 0x1a);
    CHECK((reg(s, kMsr) & 0xf0) == 0x90);
}

TEST_CASE("serial: offsets past the eighth register read 0xff and ignore writes", "[devices][serial]") {
    Console con;
    Serial16550 s(con);
    CHECK(reg(s, 8) == 0xff);
    s.write(8, 'z');
    CHECK(con.history().empty());
}

TEST_CASE("serial: on the I/O bus at COM1", "[devices][serial][iobus]") {
    Console con;
    Serial16550 s(con);
    hv::dev::IoBus bus;
    REQUIRE(bus.attach(Serial16550::kCom1Base, Serial16550::kPorts, &s).ok());
    const uint8_t c = 'K';
    CHECK(bus.write(0x3f8, &c, 1));
    CHECK(con.history() == "K");
    uint8_t lsr = 0;
    CHECK(bus.read(0x3fd, &lsr, 1));
    CHECK(int{lsr} == 0x60);
    uint8_t outside = 0;
    CHECK_FALSE(bus.read(0x400, &outside, 1));
    CHECK(int{outside} == 0xff);
}
