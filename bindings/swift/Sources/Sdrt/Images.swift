import CSdrt

/// One generated image (or preview): RGB8, rows packed, copied out of `sdrt_images`.
public struct GeneratedImage: Sendable, Hashable {
    public let width: Int
    public let height: Int
    /// `width * height * 3` bytes: R, G, B.
    public let rgb: [UInt8]
    /// `sdrt_images_flagged`: the safety checker blacked this image out.
    public let isFlagged: Bool
    /// `sdrt_images_safety_checked`: the model folder's safety checker ran on this image.
    public let isSafetyChecked: Bool

    public init(width: Int, height: Int, rgb: [UInt8], isFlagged: Bool = false,
                isSafetyChecked: Bool = false) {
        self.width = width
        self.height = height
        self.rgb = rgb
        self.isFlagged = isFlagged
        self.isSafetyChecked = isSafetyChecked
    }

    /// Copies every image of `images` (which the caller still frees).
    static func all(from images: OpaquePointer) -> [GeneratedImage] {
        let count = Int(sdrt_images_count(images))
        let width = Int(sdrt_images_width(images))
        let height = Int(sdrt_images_height(images))
        let bytes = width * height * Int(sdrt_images_channels(images))
        let checked = sdrt_images_safety_checked(images) != 0
        return (0..<count).map { i -> GeneratedImage in
            let index = UInt32(i)
            let rgb = sdrt_images_data(images, index).map {
                Array(UnsafeBufferPointer(start: $0, count: bytes))
            } ?? []
            return GeneratedImage(width: width, height: height, rgb: rgb,
                                  isFlagged: sdrt_images_flagged(images, index) != 0,
                                  isSafetyChecked: checked)
        }
    }
}

#if canImport(CoreGraphics)
import CoreGraphics
import Foundation

extension GeneratedImage {
    /// The image as a `CGImage` (sRGB, 8 bits per channel, no alpha).
    public var cgImage: CGImage? {
        guard let provider = CGDataProvider(data: Data(rgb) as CFData),
              let space = CGColorSpace(name: CGColorSpace.sRGB) else {
            return nil
        }
        return CGImage(width: width, height: height, bitsPerComponent: 8, bitsPerPixel: 24,
                       bytesPerRow: width * 3, space: space,
                       bitmapInfo: CGBitmapInfo(rawValue: CGImageAlphaInfo.none.rawValue),
                       provider: provider, decode: nil, shouldInterpolate: false,
                       intent: .defaultIntent)
    }
}

extension ImageInput {
    /// A starting image from a `CGImage`, drawn into sRGB RGBA8 (sdrt ignores the alpha).
    public init?(cgImage: CGImage) {
        guard let space = CGColorSpace(name: CGColorSpace.sRGB) else { return nil }
        let info = CGImageAlphaInfo.noneSkipLast.rawValue
        guard let pixels = ImageInput.draw(cgImage, bytesPerPixel: 4, space: space, info: info)
        else { return nil }
        self.init(pixels: pixels, width: cgImage.width, height: cgImage.height, format: .rgba8)
    }

    /// A mask from a `CGImage`, drawn into 8-bit gray: white (>= 128) is repainted.
    public init?(maskCGImage cgImage: CGImage) {
        let info = CGImageAlphaInfo.none.rawValue
        guard let pixels = ImageInput.draw(cgImage, bytesPerPixel: 1,
                                           space: CGColorSpaceCreateDeviceGray(), info: info)
        else { return nil }
        self.init(pixels: pixels, width: cgImage.width, height: cgImage.height, format: .gray8)
    }

    private static func draw(_ image: CGImage, bytesPerPixel: Int, space: CGColorSpace,
                             info: UInt32) -> [UInt8]? {
        let (width, height) = (image.width, image.height)
        var pixels = [UInt8](repeating: 0, count: width * height * bytesPerPixel)
        let drawn = pixels.withUnsafeMutableBytes { buffer -> Bool in
            guard let context = CGContext(data: buffer.baseAddress, width: width, height: height,
                                          bitsPerComponent: 8, bytesPerRow: width * bytesPerPixel,
                                          space: space, bitmapInfo: info) else {
                return false
            }
            context.draw(image, in: CGRect(x: 0, y: 0, width: width, height: height))
            return true
        }
        return drawn ? pixels : nil
    }
}
#endif
