// Serial16550's interrupt line (IRQ 4 on hv's PC machine), recorded level
// by level: the transmitter-empty interrupt (raised when enabled, taken
// back by reading the IIR that reports it, a new edge after each THR
// write), the receive interrupt (while the console has input, until it is
// read), input_arrived(), and a silent line while IER is 0.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "devices/console.hpp"
#include "devices/serial_16550.hpp"

using hv::dev::Console;
using hv::dev::Serial16550;

namespace {

constexpr uint16_t kData = 0, kIer = 1, kIir = 2, kLcr = 3, kLsr = 5;
constexpr uint8_t kIerRx = 0x01, kIerThre = 0x02;

// A UART whose line changes are recorded in order.
struct Wired {
    Console con;
    Serial16550 uart{con};
    std::vector<int> line; // each level the UART set, 0 or 1
    Wired() {
        uart.connect_irq([this](bool level) { line.push_back(level ? 1 : 0); });
    }
    int iir() { return uart.read(kIir) & 0x0f; } // without the FIFO bits
    int level() const { return line.empty() ? 0 : line.back(); }
};

} // namespace

TEST_CASE("serial irq: enabling THRE raises the line at once", "[devices][serial][irq]") {
    Wired w;
    CHECK(w.line.empty());
    w.uart.write(kIer, kIerThre);
    CHECK(w.line == std::vector<int>{1});
    // Enabling it again (already on) is no new interrupt.
    w.uart.write(kIer, kIerThre);
    CHECK(w.line == std::vector<int>{1});
}

TEST_CASE("serial irq: reading the IIR that reports THRE acknowledges it", "[devices][serial][irq]") {
    Wired w;
    w.uart.write(kIer, kIerThre);
    REQUIRE(w.level() == 1);
    CHECK(w.iir() == 0x02); // THRE
    CHECK(w.line == std::vector<int>{1, 0});
    // Acknowledged: nothing pending now.
    CHECK(w.iir() == 0x01);
    CHECK(w.line == std::vector<int>{1, 0});
}

TEST_CASE("serial irq: a THR write is a new transmitter-empty edge", "[devices][serial][irq]") {
    Wired w;
    w.uart.write(kIer, kIerThre);
    SECTION("while the interrupt is still up: the line drops and rises again") {
        w.uart.write(kData, 'a');
        CHECK(w.line == std::vector<int>{1, 0, 1});
        CHECK(w.iir() == 0x02);
        CHECK(w.line == std::vector<int>{1, 0, 1, 0});
    }
    SECTION("after it was acknowledged: the line rises") {
        CHECK(w.iir() == 0x02);
        w.uart.write(kData, 'a');
        CHECK(w.line == std::vector<int>{1, 0, 1});
        w.uart.write(kData, 'b');
        CHECK(w.line == std::vector<int>{1, 0, 1, 0, 1});
        CHECK(w.con.history() == "ab");
    }
}

TEST_CASE("serial irq: disabling THRE lowers the line; re-enabling raises it", "[devices][serial][irq]") {
    Wired w;
    w.uart.write(kIer, kIerThre);
    w.uart.write(kIer, 0);
    CHECK(w.line == std::vector<int>{1, 0});
    CHECK(w.iir() == 0x01);
    w.uart.write(kIer, kIerThre);
    CHECK(w.line == std::vector<int>{1, 0, 1});
}

TEST_CASE("serial irq: the receive interrupt follows the console's input", "[devices][serial][irq]") {
    Wired w;
    w.con.push_input("xy");
    CHECK(w.line.empty()); // not enabled yet
    w.uart.write(kIer, kIerRx);
    CHECK(w.line == std::vector<int>{1});
    CHECK(w.iir() == 0x04); // received data available
    CHECK(w.line == std::vector<int>{1}); // reading the IIR does not take it back
    CHECK(w.uart.read(kData) == 'x');
    CHECK(w.line == std::vector<int>{1}); // one byte still there
    CHECK(w.iir() == 0x04);
    CHECK(w.uart.read(kData) == 'y');
    CHECK(w.line == std::vector<int>{1, 0}); // lowered once the last byte is read
    CHECK(w.iir() == 0x01);
    CHECK((w.uart.read(kLsr) & 0x01) == 0);
}

TEST_CASE("serial irq: input_arrived raises the receive interrupt", "[devices][serial][irq]") {
    Wired w;
    w.uart.write(kIer, kIerRx);
    CHECK(w.line.empty()); // no input yet
    w.con.push_input("z");
    CHECK(w.line.empty()); // the console alone does not reach the UART
    w.uart.input_arrived();
    CHECK(w.line == std::vector<int>{1});
    w.uart.input_arrived(); // no change, no call
    CHECK(w.line == std::vector<int>{1});
    CHECK(w.uart.read(kData) == 'z');
    CHECK(w.line == std::vector<int>{1, 0});
    // Through the console's notify hook, as hv's domain wires it.
    w.con.set_input_notify([&] { w.uart.input_arrived(); });
    w.con.push_input("q");
    CHECK(w.line == std::vector<int>{1, 0, 1});
}

TEST_CASE("serial irq: receive outranks transmitter-empty in the IIR", "[devices][serial][irq]") {
    Wired w;
    w.con.push_input("r");
    w.uart.write(kIer, kIerRx | kIerThre);
    CHECK(w.line == std::vector<int>{1});
    CHECK(w.iir() == 0x04);
    CHECK(w.uart.read(kData) == 'r');
    // THRE still pending: the line stays up and the IIR now reports it.
    CHECK(w.line == std::vector<int>{1});
    CHECK(w.iir() == 0x02);
    CHECK(w.line == std::vector<int>{1, 0});
}

TEST_CASE("serial irq: nothing is raised while IER is 0", "[devices][serial][irq]") {
    Wired w;
    w.con.push_input("abc");
    w.uart.input_arrived();
    w.uart.write(kData, 'a');
    w.uart.write(kData, 'b');
    CHECK(w.iir() == 0x01);
    CHECK(w.uart.read(kData) == 'a');
    w.uart.write(kLcr, 0x83); // DLAB: offset 1 is DLM, not IER
    w.uart.write(kIer, kIerRx | kIerThre);
    w.uart.write(kLcr, 0x03);
    CHECK(w.uart.read(kIer) == 0);
    w.uart.input_arrived();
    CHECK(w.line.empty());
}

TEST_CASE("serial irq: OUT2 gates the interrupt onto the line", "[devices][serial][irq]") {
    Wired w;
    constexpr uint16_t kMcr = 4;
    w.uart.write(kMcr, 0x03); // DTR | RTS, OUT2 clear
    w.uart.write(kIer, kIerThre);
    CHECK(w.line.empty());
    CHECK(w.iir() == 0x02); // pending in the UART all the same
    w.uart.write(kData, 'a'); // pending again
    w.uart.write(kMcr, 0x0b); // OUT2 set: the pending interrupt reaches the line
    CHECK(w.line == std::vector<int>{1});
    w.uart.write(kMcr, 0x03);
    CHECK(w.line == std::vector<int>{1, 0});
}

TEST_CASE("serial irq: without a connected line the interrupt logic still runs", "[devices][serial][irq]") {
    Console con;
    Serial16550 uart(con);
    uart.write(kIer, kIerThre);
    CHECK((uart.read(kIir) & 0x0f) == 0x02);
    CHECK((uart.read(kIir) & 0x0f) == 0x01);
    con.push_input("a");
    uart.write(kIer, kIerRx);
    CHECK((uart.read(kIir) & 0x0f) == 0x04);
}
