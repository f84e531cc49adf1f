// The golden PNGs as RGB8 pixels, for comparing images with them: Foundation on Linux has no
// image or zlib API, so this is a small decoder of what tools/make_*_goldens.py write (8-bit
// RGB, not interlaced) with an inflate after RFC 1951 (the canonical-code decoding of zlib's
// puff.c).
import Foundation

enum PNG {
    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// The pixels of the PNG at `url`, rows packed.
    static func rgb(_ url: URL) throws -> (width: Int, height: Int, rgb: [UInt8]) {
        let data = [UInt8](try Data(contentsOf: url))
        let name = url.lastPathComponent
        guard data.count > 8, Array(data[0..<8]) == [137, 80, 78, 71, 13, 10, 26, 10] else {
            throw Failure("\(name): not a PNG")
        }
        func be32(_ p: Int) -> Int {
            Int(data[p]) << 24 | Int(data[p + 1]) << 16 | Int(data[p + 2]) << 8 | Int(data[p + 3])
        }
        var width = 0
        var height = 0
        var idat: [UInt8] = []
        var i = 8
        while i + 8 <= data.count {
            let n = be32(i)
            let type = String(decoding: data[(i + 4)..<(i + 8)], as: UTF8.self)
            let body = i + 8
            guard body + n <= data.count else { throw Failure("\(name): truncated \(type)") }
            if type == "IHDR" {
                width = be32(body)
                height = be32(body + 4)
                guard data[body + 8] == 8, data[body + 9] == 2, data[body + 12] == 0 else {
                    throw Failure("\(name): not 8-bit RGB without interlacing")
                }
            } else if type == "IDAT" {
                idat += data[body..<(body + n)]
            }
            i = body + n + 4
        }
        guard idat.count > 2 else { throw Failure("\(name): no image data") }
        let raw = try inflate(Array(idat.dropFirst(2)))  // after zlib's 2-byte header
        let row = width * 3
        guard width > 0, height > 0, raw.count >= height * (row + 1) else {
            throw Failure("\(name): \(raw.count) bytes for \(width) x \(height)")
        }
        var out = [UInt8](repeating: 0, count: row * height)
        for y in 0..<height {
            let filter = raw[y * (row + 1)]
            for x in 0..<row {
                let v = Int(raw[y * (row + 1) + 1 + x])
                let a = x >= 3 ? Int(out[y * row + x - 3]) : 0
                let b = y > 0 ? Int(out[(y - 1) * row + x]) : 0
                let c = x >= 3 && y > 0 ? Int(out[(y - 1) * row + x - 3]) : 0
                let predicted: Int
                switch filter {
                case 0: predicted = 0
                case 1: predicted = a
                case 2: predicted = b
                case 3: predicted = (a + b) / 2
                case 4:
                    let pa = abs(b - c)
                    let pb = abs(a - c)
                    let pc = abs(a + b - 2 * c)
                    predicted = pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
                default: throw Failure("\(name): filter \(filter)")
                }
                out[y * row + x] = UInt8((v + predicted) & 255)
            }
        }
        return (width, height, out)
    }

    /// Bits of a deflate stream, least significant first.
    struct Bits {
        let bytes: [UInt8]
        var pos = 0
        var bit = 0

        mutating func take(_ n: Int) throws -> Int {
            var value = 0
            for k in 0..<n {
                guard pos < bytes.count else { throw Failure("inflate: out of data") }
                value |= Int((bytes[pos] >> UInt8(bit)) & 1) << k
                bit += 1
                if bit == 8 {
                    bit = 0
                    pos += 1
                }
            }
            return value
        }

        mutating func align() {
            if bit != 0 {
                bit = 0
                pos += 1
            }
        }
    }

    /// A canonical Huffman code: how many codes of each length, and the symbols in code order.
    struct Huffman {
        var counts = [Int](repeating: 0, count: 16)
        var symbols: [Int]

        init(lengths: [Int]) {
            for l in lengths { counts[l] += 1 }
            counts[0] = 0
            var offsets = [Int](repeating: 0, count: 16)
            for l in 1..<16 { offsets[l] = offsets[l - 1] + counts[l - 1] }
            symbols = [Int](repeating: 0, count: lengths.count)
            for (symbol, l) in lengths.enumerated() where l != 0 {
                symbols[offsets[l]] = symbol
                offsets[l] += 1
            }
        }

        func decode(_ bits: inout Bits) throws -> Int {
            var code = 0
            var first = 0
            var index = 0
            for length in 1..<16 {
                code |= try bits.take(1)
                let count = counts[length]
                if code - count < first { return symbols[index + (code - first)] }
                index += count
                first = (first + count) << 1
                code <<= 1
            }
            throw Failure("inflate: no such code")
        }
    }

    static let lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51,
                             59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4,
                              4, 4, 5, 5, 5, 5, 0]
    static let distanceBase = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257,
                               385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289,
                               16385, 24577]
    static let distanceExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9,
                                9, 10, 10, 11, 11, 12, 12, 13, 13]
    static let codeLengthOrder = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1,
                                  15]

    static func inflate(_ input: [UInt8]) throws -> [UInt8] {
        var bits = Bits(bytes: input)
        var out: [UInt8] = []
        var last = 0
        repeat {
            last = try bits.take(1)
            switch try bits.take(2) {
            case 0:
                bits.align()
                guard bits.pos + 4 <= input.count else { throw Failure("inflate: truncated") }
                let n = Int(input[bits.pos]) | Int(input[bits.pos + 1]) << 8
                bits.pos += 4
                guard bits.pos + n <= input.count else { throw Failure("inflate: truncated") }
                out += input[bits.pos..<(bits.pos + n)]
                bits.pos += n
            case 1:
                var lengths = [Int](repeating: 8, count: 288)
                for s in 144..<256 { lengths[s] = 9 }
                for s in 256..<280 { lengths[s] = 7 }
                try codes(&bits, &out, Huffman(lengths: lengths),
                          Huffman(lengths: [Int](repeating: 5, count: 30)))
            case 2:
                let literals = try bits.take(5) + 257
                let distances = try bits.take(5) + 1
                let codeLengths = try bits.take(4) + 4
                var cl = [Int](repeating: 0, count: 19)
                for k in 0..<codeLengths { cl[codeLengthOrder[k]] = try bits.take(3) }
                let clCode = Huffman(lengths: cl)
                var lengths: [Int] = []
                while lengths.count < literals + distances {
                    let symbol = try clCode.decode(&bits)
                    if symbol < 16 {
                        lengths.append(symbol)
                    } else if symbol == 16 {
                        guard let previous = lengths.last else { throw Failure("inflate: 16") }
                        let n = try bits.take(2) + 3
                        lengths += repeatElement(previous, count: n)
                    } else if symbol == 17 {
                        let n = try bits.take(3) + 3
                        lengths += repeatElement(0, count: n)
                    } else {
                        let n = try bits.take(7) + 11
                        lengths += repeatElement(0, count: n)
                    }
                }
                try codes(&bits, &out, Huffman(lengths: Array(lengths[0..<literals])),
                          Huffman(lengths: Array(lengths[literals..<(literals + distances)])))
            default:
                throw Failure("inflate: block type 3")
            }
        } while last == 0
        return out
    }

    static func codes(_ bits: inout Bits, _ out: inout [UInt8], _ literal: Huffman,
                      _ distance: Huffman) throws {
        while true {
            let symbol = try literal.decode(&bits)
            if symbol < 256 {
                out.append(UInt8(symbol))
            } else if symbol == 256 {
                return
            } else {
                let i = symbol - 257
                guard i < 29 else { throw Failure("inflate: length symbol \(symbol)") }
                let length = try bits.take(lengthExtra[i]) + lengthBase[i]
                let d = try distance.decode(&bits)
                guard d < 30 else { throw Failure("inflate: distance symbol \(d)") }
                let back = try bits.take(distanceExtra[d]) + distanceBase[d]
                guard back <= out.count else { throw Failure("inflate: distance too far") }
                for _ in 0..<length { out.append(out[out.count - back]) }
            }
        }
    }
}
