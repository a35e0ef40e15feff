import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

// A caption above a big figure.
ColumnLayout {
    property alias caption: captionLabel.text
    property alias value: valueLabel.text
    property alias valueColor: valueLabel.color

    spacing: 0
    Label {
        id: captionLabel
        color: "#8b98a9"
        font.pixelSize: 11
    }
    Label {
        id: valueLabel
        color: "#e6edf3"
        font.pixelSize: 20
        font.bold: true
    }
}
